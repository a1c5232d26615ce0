"""``matml predict MODEL STRUCTURES --out FILE.extxyz``: a model's predictions as keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def predict(
    model: Annotated[Path, typer.Argument(help="Saved model file (model.matml).")],
    structures: Annotated[
        str,
        typer.Argument(help="Structures: a file (extxyz, mlearn JSON, any ase.io)."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Extended XYZ file to write.")
    ],
    format: Annotated[
        str | None, typer.Option(help="Input file format (default: guessed).")
    ] = None,
    prefix: Annotated[
        str, typer.Option(help="Prefix of the keys written (matml_energy, ...).")
    ] = "matml_",
    batch_size: Annotated[int, typer.Option(help="Structures per batch.")] = 8,
) -> None:
    """Energy, forces, stress and every declared property of MODEL on STRUCTURES,
    written as extxyz keys (PREFIX + name: info for structures, arrays for atoms)."""
    from matml.errors import InputError
    from matml.io import read, write_extxyz
    from matml.potential import load
    from matml.prediction import with_predictions

    if out.suffix.lower() not in (".xyz", ".extxyz"):
        raise InputError("must be an extended XYZ file (.xyz or .extxyz)", file=out)
    pot = load(model)
    atoms = read(structures, format=format)
    if not atoms:
        raise InputError("holds no structures", file=structures)
    # the input's own reference values are written back too (REF_energy, ...)
    done = with_predictions(pot, atoms, prefix=prefix, batch_size=batch_size)
    write_extxyz(out, done)
    own = ["energy", "forces", "stress"] if pot.energy_trained else []
    names = ", ".join([*own, *(p.name for p in pot.properties)])
    typer.echo(f"wrote {len(done)} structures with {names} to {out}")
