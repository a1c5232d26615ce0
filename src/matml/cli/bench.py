"""``matml bench mlearn``: the mlearn benchmark (Zuo et al. 2020) of a potential."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Benchmarks of matml's potentials.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command("mlearn")
def mlearn(
    elements: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated elements (default Li,Mo,Si; with "
            "--data-dir: every element folder in it)."
        ),
    ] = None,
    model: Annotated[
        str, typer.Option(help="Registered model: descriptor, linear, pair, ...")
    ] = "descriptor",
    config: Annotated[
        Path | None,
        typer.Option(help="YAML config replacing the benchmark's default one."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of <Element>/training.json + <Element>/test.json "
            "(default: download and cache, as `matml data fetch`)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path(
        "runs/bench-mlearn"
    ),
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Train on each element's training set, test on its test set, and compare with
    the published errors of GAP, MTP, NNP, SNAP and qSNAP. Writes results.json,
    report.md and a parity plot per element."""
    import yaml
    from rich.console import Console
    from rich.markdown import Markdown

    from matml.bench.mlearn import elements_in, run_mlearn
    from matml.errors import ConfigError, InputError

    console = Console()
    raw = None
    if config is not None:
        if not config.is_file():
            raise ConfigError("no such config file", file=config)
        try:
            raw = yaml.safe_load(config.read_text()) or {}
        except yaml.YAMLError:
            raise ConfigError("not valid YAML", file=config) from None
        if not isinstance(raw, dict):
            raise ConfigError("the config must be a mapping", file=config)
        raw.setdefault("model", {}).setdefault("name", model)
    if data_dir is not None and not data_dir.is_dir():
        raise InputError("no such folder", file=data_dir)
    if elements:
        els = [e.strip() for e in elements.split(",") if e.strip()]
    elif data_dir is not None:
        els = elements_in(data_dir)
        if not els:
            raise InputError(
                "holds no <Element>/training.json + <Element>/test.json", file=data_dir
            )
    else:
        els = ["Li", "Mo", "Si"]
    results = run_mlearn(
        els,
        model,
        config=raw,
        data_dir=data_dir,
        out=out,
        progress=progress,
        echo=lambda s: console.print(s, highlight=False),
    )
    from matml.bench.mlearn import report

    console.print(Markdown(report(results)))
    console.print(f"results: {out / 'results.json'}, report: {out / 'report.md'}")


@bench_app.command("structures")
def structures(
    models: Annotated[
        str,
        typer.Option(
            help="Comma-separated models: composition, invariants, equivariant."
        ),
    ] = "composition,invariants",
    targets: Annotated[
        str, typer.Option(help="Comma-separated targets: log_kvrh, log_gvrh.")
    ] = "log_kvrh,log_gvrh",
    data: Annotated[
        Path,
        typer.Option(
            help="mp_elastic_structures.json.gz (pandas split-JSON of pymatgen "
            "structures with bulk_modulus and shear_modulus in GPa)."
        ),
    ] = Path("../shared/data/tables/mp_elastic_structures.json.gz"),
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path(
        "runs/bench-structures"
    ),
    limit: Annotated[
        int | None, typer.Option(help="Use only the first N usable rows.")
    ] = None,
    max_order: Annotated[
        int, typer.Option(help="Invariants: largest Zernike order N.")
    ] = 5,
    max_degree: Annotated[int, typer.Option(help="Invariants: degree 1-4.")] = 2,
    cutoff: Annotated[float, typer.Option(help="Invariants: cutoff (Å).")] = 5.0,
    cell: Annotated[
        bool, typer.Option(help="Add volume per atom and density to the invariants.")
    ] = True,
    n_estimators: Annotated[int, typer.Option(help="Trees per forest.")] = 500,
    n_jobs: Annotated[int, typer.Option(help="Parallel jobs for the trees.")] = 2,
    equivariant_minutes: Annotated[
        float, typer.Option(help="Equivariant model: training minutes per fold.")
    ] = 5.0,
    equivariant_epochs: Annotated[
        int, typer.Option(help="Equivariant model: epochs (schedule) per fold.")
    ] = 40,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Elastic moduli (log10 K_VRH, G_VRH) of MP compounds from their structures:
    5-fold CV of the composition-only pipeline and of structure-averaged moment
    invariants + composition, on the same folds. Writes results.json and report.md."""
    import shlex
    import sys

    from rich.console import Console
    from rich.markdown import Markdown

    from matml.bench.structures import (
        BenchOptions,
        check_names,
        load_structures,
        run_structures,
    )

    console = Console()
    echo = lambda s: console.print(s, highlight=False)  # noqa: E731
    names = [m.strip() for m in models.split(",") if m.strip()]
    tgts = [t.strip() for t in targets.split(",") if t.strip()]
    check_names(names, tgts)
    data_set = load_structures(data, limit)
    echo(" / ".join(data_set.notes))
    opts = BenchOptions(
        n_estimators=n_estimators,
        n_jobs=n_jobs,
        cutoff=cutoff,
        max_order=max_order,
        max_degree=max_degree,
        cell=cell,
        progress=progress,
        equivariant_minutes=equivariant_minutes,
        equivariant_epochs=equivariant_epochs,
    )
    command = "matml " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = run_structures(
        data_set, names, tgts, out, opts, command=command, echo=echo
    )
    from matml.bench.structures import report

    console.print(Markdown(report(summary)))
    console.print(f"results: {out / 'results.json'}, report: {out / 'report.md'}")
