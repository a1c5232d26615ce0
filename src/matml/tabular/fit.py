"""``matml table fit`` and ``predict``: cross-validated models of a table, saved pipelines."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from matml.errors import InputError
from matml.tabular._threads import one_thread
from matml.tabular.featurize import DEFAULT_FEATURES, preprocessing, table_features
from matml.tabular.models import (
    CLASSIFIERS,
    REGRESSORS,
    cross_validate_models,
    make_pipeline,
)
from matml.tabular.reading import load_command_table, load_table, naming_file
from matml.tabular.report import Report, markdown_table, progress_bar

__all__ = ["fit_table", "predict_table", "DEFAULT_MODELS"]

DEFAULT_MODELS = {
    "regression": ("linear", "poly", "tree", "forest", "gbr", "mlp"),
    "classification": ("logistic", "tree", "forest", "gbc", "mlp"),
}


def _targets(table, threshold):
    raw = table.frame[table.target]
    if threshold is not None:
        if raw.dtype == object:
            raise InputError(
                "--threshold needs a numeric target",
                file=table.source,
                field=table.target,
            )
        return np.where(
            raw.to_numpy(float) > threshold, f"> {threshold:g}", f"<= {threshold:g}"
        ), "classification"
    if raw.dtype == object or str(raw.dtype).startswith(("str", "string", "category")):
        return raw.astype(str).to_numpy(), "classification"
    return raw.to_numpy(float), "regression"


def _check_models(names, task: str) -> None:
    allowed = REGRESSORS if task == "regression" else CLASSIFIERS
    for name in names:
        if name not in allowed:
            raise InputError(
                f"unknown {task} model {name!r} (choose from {', '.join(allowed)})",
                field="models",
            )


def _cv_lines(res, names, task, cv, seed, echo) -> tuple[str, str]:
    """Print the out-of-fold metrics; return the markdown table and the CV summary."""
    cols = (
        ["model", "mae", "rmse", "r", "r2"]
        if task == "regression"
        else ["model", "accuracy", "balanced_accuracy", "roc_auc"]
    )
    table_md = markdown_table([{"model": m, **res.metrics[m]} for m in names], cols)
    best = res.best()
    echo(f"{cv}-fold CV (seed {seed}), out-of-fold metrics:")
    echo(table_md)
    echo(f"best: {best}")
    timing = ", ".join(f"{m} {res.seconds[m]:.0f} s" for m in names)
    echo(f"CV time: {timing}")
    poly_note = ""
    if res.poly_degrees:
        poly_note = (
            f" Polynomial degree chosen by inner CV in each fold: {res.poly_degrees}."
        )
        echo(poly_note.strip())
    summary = f"Best model: **{best}**. CV time: {timing}.{poly_note}"
    return table_md, summary


def _data_text(table, features) -> str:
    return (
        f"{len(table.frame)} rows used, {len(table.drops)} dropped. "
        f"Features: {', '.join(features) if table.formula_column else 'none from formulas'}"
        f"{' + ' + ', '.join(table.numeric_columns) if table.numeric_columns else ''}."
    )


def _save_model(path: Path, pipeline, table, task, threshold, best) -> None:
    """The fitted pipeline and what predicting needs, as one joblib file."""
    import joblib

    from matml._files import atomic_path

    with atomic_path(path) as tmp:
        joblib.dump(
            {
                "pipeline": pipeline,
                "target": table.target,
                "task": task,
                "threshold": threshold,
                "formula_column": table.formula_column,
                "numeric_columns": table.numeric_columns,
                "model": best,
                "format": "matml.tabular/1",
            },
            tmp,
        )


@one_thread
def fit_table(
    data: str | os.PathLike,
    target: str,
    out: str | os.PathLike,
    *,
    models: list[str] | None = None,
    cv: int = 5,
    seed: int = 0,
    threshold: float | None = None,
    features: tuple[str, ...] = DEFAULT_FEATURES,
    numeric: list[str] | None = None,
    exclude: tuple[str, ...] = (),
    formula_column: str | None = "auto",
    n_jobs: int = 2,
    echo=print,
    progress: bool = False,
) -> dict:
    """Cross-validate models on a table, write report and plots, save the best model.

    Returns:
        the results dict (also in ``out/results.json``): per-model metrics, the best
        model's name and the saved model's path.

    Raises:
        InputError: missing columns, a constant target, fewer rows than folds, ...
    """
    table = load_command_table(
        data,
        target=target,
        formula_column=formula_column,
        exclude=exclude,
        numeric=numeric,
    )
    with naming_file(table.source):
        y, task = _targets(table, threshold)
        names = list(models or DEFAULT_MODELS[task])
        _check_models(names, task)
        feats = table_features(table, features)
    config = {
        "command": "table fit",
        "data": str(data),
        "target": target,
        "task": task,
        "models": names,
        "cv": cv,
        "threshold": threshold,
        "features": list(features),
        "formula_column": table.formula_column,
        "numeric_columns": table.numeric_columns,
    }
    rep = Report(out, f"Fit: {target} from {Path(str(data)).name}", config, seed)
    echo(f"{len(table.frame)} rows used, {len(table.drops)} dropped; task: {task}")
    for line in table.notes()[:10]:
        echo(f"  {line}")
    with (
        naming_file(table.source),
        progress_bar(len(names) * cv, "cross-validating", progress) as step,
    ):
        res = cross_validate_models(
            table.frame,
            y,
            names,
            feats,
            task=task,
            cv=cv,
            seed=seed,
            progress=step,
            n_jobs=n_jobs,
        )
    table_md, summary = _cv_lines(res, names, task, cv, seed, echo)
    best = res.best()
    rep.section("Data")
    rep.text(_data_text(table, features))
    rep.notes(table.notes())
    rep.section(f"{cv}-fold cross-validation")
    rep.text(table_md + "\n\n" + summary)
    if task == "regression":
        from matml.tabular.plots import parity_grid

        rep.figure(
            parity_grid(y, res.predictions, res.metrics, target),
            "parity",
            "Out-of-fold predictions against the truth",
        )
    # refit the best on everything and save it
    final = make_pipeline(best, feats, task, seed, n_jobs).fit(table.frame, y)
    model_path = Path(out) / "model.joblib"
    _save_model(model_path, final, table, task, threshold, best)
    _explain(rep, table, y, feats, task, seed)
    rep.results = {
        "task": task,
        "rows": len(table.frame),
        "dropped": len(table.drops),
        "cv": cv,
        "metrics": res.metrics,
        "fold_metrics": res.fold_metrics,
        "best": best,
        "model_path": str(model_path),
    }
    rep.write()
    echo(f"report: {Path(out) / 'report.md'}; model: {model_path}")
    return rep.results


def _explain(rep, table, y, feats, task, seed):
    """Forest importances and a picture of a depth-3 tree, both fitted on all rows."""
    from sklearn.pipeline import Pipeline

    from matml.tabular.models import make_estimator
    from matml.tabular.plots import importance_bar, tree_picture

    pre = Pipeline(preprocessing(feats, scale=False))
    X = pre.fit_transform(table.frame)
    names = pre.get_feature_names_out()
    forest = (
        make_estimator("forest", task, seed, n_jobs=1)
        .set_params(n_estimators=100)
        .fit(X, y)
    )
    rep.section("What the models use")
    rep.figure(
        importance_bar(
            names,
            forest.feature_importances_,
            "Random forest impurity importances (top 20)",
        ),
        "importances",
        "Feature importances of a random forest fitted on all rows",
    )
    order = np.argsort(forest.feature_importances_)[::-1][:10]
    rep.table(
        [
            {"feature": names[i], "importance": forest.feature_importances_[i]}
            for i in order
        ]
    )
    shallow = make_estimator("tree", task, seed).set_params(max_depth=3).fit(X, y)
    rep.figure(
        tree_picture(shallow, names, "Decision tree of depth 3 fitted on all rows"),
        "tree",
        "A shallow decision tree: the splits it chose",
    )


def predict_table(
    model: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    echo=print,
) -> dict:
    """Predict a table with a model saved by :func:`fit_table`; write ``predictions.csv``."""
    import joblib

    path = Path(model)
    if not path.is_file():
        raise InputError("no such model file", file=str(path))
    try:
        saved = joblib.load(path)
    except Exception as err:
        raise InputError(
            f"not a saved matml table model ({type(err).__name__})", file=str(path)
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != "matml.tabular/1":
        raise InputError("not a saved matml table model", file=str(path))
    table = load_table(
        data,
        target=None,
        formula_column=saved["formula_column"],
        numeric_columns=saved["numeric_columns"],
    )
    pred = saved["pipeline"].predict(table.frame)
    frame = table.frame.copy()
    frame[f"predicted_{saved['target']}"] = pred
    config = {
        "command": "table predict",
        "model": str(path),
        "data": str(data),
        "target": saved["target"],
    }
    rep = Report(out, f"Predictions of {saved['target']}", config, None)
    from matml._files import atomic_path

    csv = Path(out) / "predictions.csv"
    with atomic_path(csv) as tmp:
        frame.to_csv(tmp, index=False)
    lines = [
        f"{len(frame)} rows predicted with {saved['model']}, {len(table.drops)} dropped"
    ]
    results = {
        "rows": len(frame),
        "dropped": len(table.drops),
        "model": saved["model"],
        "predictions": str(csv),
    }
    target = saved["target"]
    if (
        target in table.frame.columns
        and saved["task"] == "regression"
        and saved["threshold"] is None
    ):
        import pandas as pd

        from matml.tabular.models import regression_metrics

        truth = pd.to_numeric(table.frame[target], errors="coerce").to_numpy()
        ok = np.isfinite(truth)
        if ok.sum() >= 2:
            m = regression_metrics(truth[ok], pred[ok])
            results["metrics"] = m
            lines.append(
                "against the table's own target: "
                + ", ".join(f"{k} {v:.4g}" for k, v in m.items())
            )
    for line in lines:
        echo(line)
    rep.section("Predictions")
    rep.text("\n\n".join(lines) + f"\n\nWritten to `{csv.name}`.")
    rep.notes(table.notes())
    rep.results = results
    rep.write()
    return results
