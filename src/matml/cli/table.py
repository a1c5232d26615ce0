"""``matml table ...``: the materials-table pipeline (explore, fit, predict, reduce,
cluster, demo, bench). Heavy imports happen inside the commands."""

from __future__ import annotations

from pathlib import Path

import typer

table_app = typer.Typer(
    help="Materials-property tables: explore, fit, predict, reduce, cluster, benchmark.",
    no_args_is_help=True,
)

_DATA = typer.Argument(
    ..., help="CSV or JSON table (a formula column is parsed with pymatgen)."
)
_SEED = typer.Option(0, help="Random seed (folds, models).")
_FEATURES = typer.Option("magpie,stoich,fractions", help="Composition features.")
_EXCLUDE = typer.Option("", help="Columns to leave out (comma-separated).")
_FORMULA = typer.Option("auto", help="Formula column ('auto' or 'none').")


def _columns(features: str | None, exclude: str, formula_column: str) -> dict:
    """The shared table options as keyword arguments of the tabular functions."""
    out = {
        "exclude": tuple(_split(exclude) or ()),
        "formula_column": None if formula_column == "none" else formula_column,
    }
    if features is not None:
        out["features"] = tuple(_split(features) or ())
    return out


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


@table_app.command()
def fit(
    data: Path = _DATA,
    target: str = typer.Option(..., "--target", "-t", help="Column to predict."),
    models: str = typer.Option(
        None,
        help="Comma-separated models: linear, poly, tree, forest, extra, zero, gbr, mlp (classification: logistic, tree, forest, extra, gbc, mlp). Default: all but extra, zero.",
    ),
    cv: int = typer.Option(5, help="Number of cross-validation folds."),
    threshold: float = typer.Option(
        None, help="Classify target > THRESHOLD instead of regressing."
    ),
    features: str = typer.Option(
        "magpie,stoich,fractions",
        help="Composition features: magpie, stoich, fractions, counts.",
    ),
    numeric: str = typer.Option(
        None, help="Numeric columns to use (default: all numeric columns)."
    ),
    exclude: str = typer.Option(
        "", help="Columns never used as features (comma-separated)."
    ),
    formula_column: str = typer.Option(
        "auto", help="Formula column ('auto': formula/composition)."
    ),
    out: Path = typer.Option(
        Path("table-fit"), help="Output folder for report, plots, model."
    ),
    seed: int = _SEED,
) -> None:
    """Cross-validate regression (or classification) models; report, plots, saved model."""
    from matml.tabular.fit import fit_table

    fit_table(
        data,
        target,
        out,
        models=_split(models),
        cv=cv,
        seed=seed,
        threshold=threshold,
        numeric=_split(numeric),
        **_columns(features, exclude, formula_column),
        echo=typer.echo,
        progress=True,
    )


@table_app.command()
def predict(
    model: Path = typer.Argument(..., help="model.joblib saved by `matml table fit`."),
    data: Path = _DATA,
    out: Path = typer.Option(
        Path("table-predict"), help="Output folder (predictions.csv, report)."
    ),
) -> None:
    """Predict a table with a saved pipeline; writes predictions.csv and a report."""
    from matml.tabular.fit import predict_table

    predict_table(model, data, out, echo=typer.echo)


@table_app.command()
def bench(
    suite: str = typer.Argument("matbench", help="Benchmark suite (only 'matbench')."),
    task: str = typer.Option(
        "expt_gap", help="expt_gap, steels, log_kvrh or log_gvrh."
    ),
    data_dir: Path = typer.Option(
        ..., help="Folder holding <task>.csv (formula,target)."
    ),
    out: Path = typer.Option(
        None, help="Folder for results.json (default: matbench-<task>)."
    ),
    n_jobs: int = typer.Option(2, help="Parallel jobs for the trees."),
    n_estimators: int = typer.Option(500, help="Trees per forest."),
) -> None:
    """Run the matbench protocol (5 fixed folds) and compare with the leaderboard."""
    from matml.errors import InputError
    from matml.tabular.bench import run_matbench

    if suite != "matbench":
        raise InputError(
            f"unknown benchmark suite {suite!r} (only 'matbench')",
            file=data_dir,
            field="suite",
        )
    run_matbench(
        task,
        data_dir,
        out or Path(f"matbench-{task}"),
        n_jobs=n_jobs,
        n_estimators=n_estimators,
        echo=typer.echo,
        progress=True,
    )


@table_app.command()
def explore(
    data: Path = _DATA,
    target: str = typer.Option(
        ..., "--target", "-t", help="Numeric column of interest."
    ),
    exclude: str = _EXCLUDE,
    formula_column: str = _FORMULA,
    out: Path = typer.Option(
        Path("table-explore"), help="Output folder for report and plots."
    ),
) -> None:
    """Summary statistics, correlation heatmaps, scatter plots, element counts."""
    from matml.tabular.explore import explore_table

    explore_table(
        data,
        target,
        out,
        **_columns(None, exclude, formula_column),
        echo=typer.echo,
    )


@table_app.command()
def reduce(
    data: Path = _DATA,
    target: str = typer.Option(
        None, "--target", "-t", help="Column for the linear-fit comparison."
    ),
    k: int = typer.Option(5, help="Principal components used in the comparison."),
    bottleneck: int = typer.Option(None, help="Autoencoder code size (default: k)."),
    epochs: int = typer.Option(150, help="Autoencoder training epochs."),
    cv: int = typer.Option(5, help="Cross-validation folds."),
    features: str = _FEATURES,
    exclude: str = _EXCLUDE,
    formula_column: str = _FORMULA,
    out: Path = typer.Option(Path("table-reduce"), help="Output folder."),
    seed: int = _SEED,
) -> None:
    """PCA (explained variance), a flax autoencoder, linear fits on features/PCs/code."""
    from matml.tabular.reduce import reduce_table

    reduce_table(
        data,
        out,
        target=target,
        k=k,
        bottleneck=bottleneck,
        epochs=epochs,
        cv=cv,
        seed=seed,
        **_columns(features, exclude, formula_column),
        echo=typer.echo,
    )


@table_app.command()
def cluster(
    data: Path = _DATA,
    k_max: int = typer.Option(8, help="Largest k tried (silhouette selection)."),
    n_components: int = typer.Option(10, help="Principal components clustered."),
    min_samples: int = typer.Option(
        5, help="DBSCAN min_samples (and k of the k-distance)."
    ),
    eps: float = typer.Option(
        None, help="DBSCAN eps (default: knee of the k-distance curve)."
    ),
    features: str = _FEATURES,
    exclude: str = _EXCLUDE,
    formula_column: str = _FORMULA,
    out: Path = typer.Option(Path("table-cluster"), help="Output folder."),
    seed: int = _SEED,
) -> None:
    """k-means, Gaussian mixture and DBSCAN; silhouette vs k; k-distance; 2D picture."""
    from matml.tabular.cluster import cluster_table

    cluster_table(
        data,
        out,
        k_max=k_max,
        n_components=n_components,
        min_samples=min_samples,
        eps=eps,
        seed=seed,
        **_columns(features, exclude, formula_column),
        echo=typer.echo,
    )


@table_app.command()
def demo(
    out: Path = typer.Option(Path("table-demo"), help="Output folder."),
    rows: int = typer.Option(
        None, help="Use a random subset of this many rows (quicker)."
    ),
    cv: int = typer.Option(5, help="Cross-validation folds."),
    models: str = typer.Option(None, help="Comma-separated models (default: all)."),
    epochs: int = typer.Option(150, help="Autoencoder epochs."),
    seed: int = _SEED,
) -> None:
    """The whole tour on pymatgen's 2,135 experimental formation enthalpies (no download)."""
    from matml.tabular.demo import run_demo

    run_demo(
        out,
        rows=rows,
        cv=cv,
        models=_split(models),
        epochs=epochs,
        seed=seed,
        echo=typer.echo,
    )


def register(app: typer.Typer) -> None:
    """Add the ``table`` group (and the ``eos`` verb) to the main app."""
    app.add_typer(table_app, name="table")
