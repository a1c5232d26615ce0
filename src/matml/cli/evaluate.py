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
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Also the energy errors per value of each structure's info[KEY] "
            "(mlearn's 'group', an extxyz 'config_type').",
            metavar="KEY",
        ),
    ] = None,
) -> None:
    """Energy (meV/atom), force (eV/Å) and stress (GPa) errors of MODEL on DATA, and
    those of the model's declared properties (in the file's units); with --by KEY,
    the energy errors per kind of structure."""
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
    if by is not None:
        _check_by(by, pot, model, atoms, name)
    ds = Dataset.from_atoms(
        atoms, pot.cutoff, pot.species, name=name, properties=pot.properties
    )
    ev = run_eval(pot, ds, batch_size)
    results = {"test": ev.metrics, "n_test": len(ds), "model": str(model), "data": data}
    if by is not None:
        from matml.train.evaluate import energy_errors_by

        results[f"energy_by_{by}"] = energy_errors_by(
            pot, atoms, by, batch_size=batch_size
        )
    if out is not None:
        write_json(out / "metrics.json", results)
        parity_plot(ev, out / "parity.png", title=name)
    _print_results(results, out or Path("."))
    if by is not None:
        _print_by(by, results[f"energy_by_{by}"])


def _check_by(by: str, pot, model, atoms: list, name: str) -> None:
    """Refuse ``--by`` where there is no energy error to split."""
    from matml import keys
    from matml.errors import InputError

    if not getattr(pot, "energy_trained", True):
        raise InputError(
            "--by compares energies; this model was trained on other properties only",
            file=model,
        )
    if not any(keys.ENERGY in a.info for a in atoms):
        raise InputError(
            "no structure has a reference energy to compare", file=name, field="--by"
        )
    if not any(by in a.info for a in atoms):
        raise InputError(
            f"no structure has the info key {by!r}", file=name, field="--by"
        )


def _print_by(key: str, rows: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"energy error by {key}, meV/atom")
    for col in (key, "structures", "RMSE", "mean error"):
        table.add_column(col, justify="left" if col == key else "right")
    for g, r in rows.items():
        table.add_row(g, str(r["n"]), f"{r['energy_rmse_mev_per_atom']:.2f}",
                      f"{r['energy_mean_error_mev_per_atom']:+.2f}")  # fmt: skip
    Console().print(table)
