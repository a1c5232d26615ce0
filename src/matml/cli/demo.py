"""``matml demo``: data -> model -> evaluation -> MD on built-in EMT copper data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "demo"
    ),
    epochs: Annotated[
        int | None, typer.Option(help="Training epochs (default 150).")
    ] = None,
    md_steps: Annotated[int, typer.Option(help="NVE MD steps of 1 fs.")] = 1000,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Build an EMT copper data set, train a potential, evaluate it, run NVE MD.

    Writes OUT/metrics.json (energy_rmse_mev_per_atom, force_rmse_ev_per_a,
    md_energy_drift_mev_per_atom_per_ps, n_train, n_test, seconds), the model
    (OUT/model.matml), a parity plot and the learning curve.
    """
    from rich.console import Console
    from rich.table import Table

    from matml.demo.job import run_demo

    m = run_demo(out, epochs=epochs, md_steps=md_steps, progress=progress)
    table = Table(title=f"matml demo: EMT copper, held-out test set -> {out}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("structures train / test", f"{m['n_train']} / {m['n_test']}"),
        ("energy RMSE (meV/atom)", f"{m['energy_rmse_mev_per_atom']:.3f}"),
        ("energy MAE (meV/atom)", f"{m['energy_mae_mev_per_atom']:.3f}"),
        ("force RMSE (eV/Å)", f"{m['force_rmse_ev_per_a']:.4f}"),
        ("stress RMSE (GPa)", f"{m['stress_rmse_gpa']:.3f}"),
        ("NVE drift (meV/atom/ps)", f"{m['md_energy_drift_mev_per_atom_per_ps']:.4f}"),
        ("NVE mean temperature (K)", f"{m['md_mean_temperature_K']:.0f}"),
        ("wall time (s)", f"{m['seconds']:.1f}"),
    ]
    for r in rows:
        table.add_row(*r)
    Console().print(table)
