"""``matml evaluate MODEL DATA``: errors of a saved model on labelled structures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def evaluate(
    model: Annotated[Path, typer.Argument(help="Saved model file (model.matml).")],
    data: Annotated[
        str,
        typer.Argument(
            help="Structures with references: a file, or mlearn:EL (test set)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder for metrics.json and parity.png."),
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="File format (default: guessed).")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Local copy of the mlearn data.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Structures per batch.")] = 8,
) -> None:
    """Energy (meV/atom), force (eV/Å) and stress (GPa) errors of MODEL on DATA, and
    those of the model's declared properties (in the file's units)."""
    from matml._files import write_json
    from matml.cli.train import _print_results
    from matml.data import Dataset
    from matml.errors import InputError, MatmlError
    from matml.potential import load
    from matml.train.config import RunConfig
    from matml.train.evaluate import evaluate as run_eval
    from matml.train.plots import parity_plot
    from matml.train.run import read_source

    pot = load(model)
    cfg = RunConfig()
    cfg.data.format, cfg.data.data_dir = format, data_dir
    cfg.train.forces_weight = 0.0  # forces are optional here
    cfg.train.energy_weight = 0.0  # and energies (a model may predict other things)
    try:
        atoms, name = read_source(data, cfg, "test")
    except MatmlError as err:
        if err.file is not None:
            raise
        raise type(err)(
            err.message, file=data, entry=err.entry, field=err.field
        ) from None
    if not atoms:
        raise InputError("holds no structures", file=name)
    ds = Dataset.from_atoms(
        atoms, pot.cutoff, pot.species, name=name, properties=pot.properties
    )
    ev = run_eval(pot, ds, batch_size)
    results = {"test": ev.metrics, "n_test": len(ds), "model": str(model), "data": data}
    if out is not None:
        write_json(out / "metrics.json", results)
        parity_plot(ev, out / "parity.png", title=name)
    _print_results(results, out or Path("."))
