"""``matml train CONFIG``: train a potential from a YAML config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    config: Annotated[
        Path, typer.Argument(help="YAML config (sections data, model, train).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default runs/<config name>)."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Continue from the checkpoint in the output folder."
        ),
    ] = False,
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Override train.epochs (allowed on resume: added epochs run at the final learning rate)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    devices: Annotated[
        str | None,
        typer.Option(
            help="Override train.devices: 'auto' (every device present) or a number "
            "(data parallel; the global batch and learning rate stay the same)."
        ),
    ] = None,
    coordinator: Annotated[
        str | None,
        typer.Option(
            help="Several processes: host:port of process 0 (or MATML_COORDINATOR, "
            "or SLURM's variables)."
        ),
    ] = None,
    num_processes: Annotated[
        int | None, typer.Option(help="Several processes: how many.")
    ] = None,
    process_id: Annotated[
        int | None, typer.Option(help="Several processes: this one's rank.")
    ] = None,
) -> None:
    """Train a potential; writes model.matml, metrics.csv/json, plots and run.json.

    Kill it at any time: `matml train CONFIG --resume` continues after the last
    completed epoch with the same optimiser state.
    """
    from matml.errors import MatmlError
    from matml.train.config import load_config
    from matml.train.run import train_from_config

    cfg = load_config(config)
    if epochs is not None:
        cfg.train.epochs = epochs
    if devices is not None:
        from matml.train.config import from_dict

        raw = cfg.to_dict()
        raw["train"]["devices"] = devices if devices == "auto" else _number(devices)
        cfg = from_dict(raw, file=f"--devices {devices}")
    for key, value in (("coordinator", coordinator), ("num_processes", num_processes),
                       ("process_id", process_id)):  # fmt: skip
        if value is not None:
            cfg.distributed[key] = value
    out = out or Path("runs") / config.stem
    try:
        results = train_from_config(cfg, out, resume=resume, progress=progress)
    except MatmlError as err:
        if err.file is not None:
            raise
        # a config value (train.lr for a diverging loss, say): name the config file
        raise type(err)(
            err.message, file=str(config), entry=err.entry, field=err.field
        ) from None
    from matml.train.distributed import is_main

    if is_main():
        _print_results(results, out)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return text  # refused, with its name, by the config check


def _print_results(results: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from matml.properties import BUILTIN

    table = Table(title=f"matml train -> {out}")
    table.add_column("set")
    for col in ("E RMSE meV/atom", "E MAE", "F RMSE eV/Å", "F MAE", "S RMSE GPa"):
        table.add_column(col, justify="right")
    for name in ("valid", "test"):
        m = results.get(name)
        if not m:
            continue
        table.add_row(
            name,
            *(
                f"{m[k]:.4g}" if k in m else "-"
                for k in (
                    "energy_rmse",
                    "energy_mae",
                    "forces_rmse",
                    "forces_mae",
                    "stress_rmse",
                )
            ),
        )
    Console().print(table)
    # declared properties (matml.properties): RMSE and MAE in the file's units
    builtin = {p.name for p in BUILTIN}
    names = sorted(
        {
            k.rsplit("_", 1)[0]
            for name in ("valid", "test")
            for k in (results.get(name) or {})
            if k.rsplit("_", 1)[0] not in builtin
        }
    )
    if names:
        props = Table(title="declared properties (file units)")
        props.add_column("set")
        for n in names:
            props.add_column(f"{n} RMSE", justify="right")
            props.add_column(f"{n} MAE", justify="right")
        for name in ("valid", "test"):
            m = results.get(name)
            if m:
                cells = [f"{m[f'{n}_{s}']:.4g}" if f"{n}_{s}" in m else "-"
                         for n in names for s in ("rmse", "mae")]  # fmt: skip
                props.add_row(name, *cells)
        Console().print(props)
