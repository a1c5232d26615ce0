"""The matbench protocol on composition tasks (``matml table bench matbench``).

Folds: ``KFold(n_splits=5, shuffle=True, random_state=18012019)`` over the rows of
the task's CSV in file order (matbench v0.1 order); the model is fitted on each
training fold only (its hyperparameters are fixed in advance, so no information from
a test fold reaches it) and scored by MAE on the test fold; the score is the mean
over the 5 folds.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from matml.errors import InputError

__all__ = ["LEADERBOARD", "MATBENCH_SEED", "default_pipeline", "run_matbench"]

MATBENCH_SEED = 18012019

# matbench v0.1 leaderboard (mean MAE over folds, 2024-01-20), see shared/data/README.md
LEADERBOARD = {
    "expt_gap": {
        "best": 0.2865,
        "MODNet": 0.3327,
        "CrabNet": 0.3463,
        "RF-SCM/Magpie": 0.4461,
        "Dummy": 1.1435,
    },
    "steels": {
        "best": 79.95,
        "MODNet": 87.76,
        "CrabNet": 107.32,
        "RF-SCM/Magpie": 103.51,
        "Dummy": 229.74,
    },
    "log_kvrh": {
        "best": 0.0491,
        "MODNet": 0.0548,
        "CrabNet": 0.0758,
        "RF-SCM/Magpie": 0.0820,
        "Dummy": 0.2897,
    },
    "log_gvrh": {
        "best": 0.0670,
        "MODNet": 0.0731,
        "CrabNet": 0.1014,
        "RF-SCM/Magpie": 0.1040,
        "Dummy": 0.2931,
    },
}


def default_pipeline(
    task: str, seed: int = 0, n_jobs: int = 2, n_estimators: int = 500
):
    """The default composition pipeline for a matbench task.

    Magpie statistics + stoichiometry/valence/ionic attributes + element fractions
    (:func:`composition_features` defaults), then extra trees (``max_features=0.5``).
    For ``expt_gap`` (about half the compounds are metals with a gap of exactly 0) an
    extra-trees classifier first decides metal or not, and the regressor, trained on
    the non-metals only, gives the gap of the rest (:class:`ZeroInflatedRegressor`).
    """
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
    from sklearn.pipeline import Pipeline

    from matml.tabular.featurize import DEFAULT_FEATURES, composition_features
    from matml.tabular.models import ZeroInflatedRegressor

    reg = ExtraTreesRegressor(
        n_estimators, max_features=0.5, random_state=seed, n_jobs=n_jobs
    )
    if task == "expt_gap":
        clf = ExtraTreesClassifier(n_estimators, random_state=seed, n_jobs=n_jobs)
        model = ZeroInflatedRegressor(clf, reg)
    else:
        model = reg
    return Pipeline(
        [
            (
                "features",
                composition_features("formula", (), DEFAULT_FEATURES),
            ),
            ("model", model),
        ]
    )


def run_matbench(
    task: str,
    data_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    n_jobs: int = 2,
    n_estimators: int = 500,
    echo=print,
    progress: bool = False,
) -> dict:
    """Run the matbench protocol on ``data_dir/<task>.csv``; write ``out/results.json``.

    Returns:
        dict with ``mae_mean``, ``mae_std``, ``fold_maes``, ``model``, ``seconds``,
        ``task``, ``n_rows`` and the ``leaderboard`` numbers.
    """
    import pandas as pd
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    from matml.tabular.reading import load_table
    from matml.tabular.report import progress_bar

    path = Path(data_dir) / f"{task}.csv"
    if not path.is_file():
        raise InputError(
            f"no matbench file for task {task!r} (expected {path.name})",
            file=str(path.parent),
        )
    raw = pd.read_csv(path)
    for col in ("formula", "target"):
        if col not in raw.columns:
            raise InputError("missing column", file=str(path), field=col)
    table = load_table(path, target="target", formula_column="formula")
    if len(table.drops):
        # dropping rows would shift the published folds
        raise InputError(
            f"{len(table.drops)} unusable rows ({table.drops.lines(1)[0]})",
            file=str(path),
        )
    frame = table.frame[["formula"]]
    y = table.frame["target"].to_numpy(float)
    model = default_pipeline(task, n_jobs=n_jobs, n_estimators=n_estimators)
    t0 = time.perf_counter()
    maes = []
    fold_lines: list[str] = []
    folds = KFold(n_splits=5, shuffle=True, random_state=MATBENCH_SEED).split(frame)
    with progress_bar(5, f"matbench {task}", progress) as step:
        for i, (train, test) in enumerate(folds):
            fitted = clone(model).fit(frame.iloc[train], y[train])
            mae = float(np.mean(np.abs(fitted.predict(frame.iloc[test]) - y[test])))
            maes.append(mae)
            fold_lines.append(f"fold {i}: MAE {mae:.4f}")
            echo(fold_lines[-1])
            step()
    seconds = time.perf_counter() - t0
    est = model.named_steps["model"]
    desc = "magpie+stoich+fractions -> " + (
        f"ZeroInflated(ExtraTreesClassifier, ExtraTreesRegressor), {n_estimators} trees"
        if type(est).__name__ == "ZeroInflatedRegressor"
        else f"ExtraTreesRegressor, {n_estimators} trees, max_features=0.5"
    )
    result = {
        "task": task,
        "n_rows": len(y),
        "mae_mean": float(np.mean(maes)),
        "mae_std": float(np.std(maes)),
        "fold_maes": maes,
        "model": desc,
        "seconds": seconds,
        "folds": f"KFold(n_splits=5, shuffle=True, random_state={MATBENCH_SEED})",
        "leaderboard": LEADERBOARD.get(task, {}),
    }
    echo(
        f"matbench {task}: mean MAE {result['mae_mean']:.4f} ± {result['mae_std']:.4f} ({seconds:.0f} s)"
    )
    for name, score in LEADERBOARD.get(task, {}).items():
        echo(f"  leaderboard {name:>14}: {score}")
    if out is not None:
        from matml.tabular.report import Report

        config = {
            "command": "table bench matbench",
            "task": task,
            "data_dir": str(data_dir),
            "n_estimators": n_estimators,
            "folds": result["folds"],
        }
        rep = Report(out, f"matbench {task}", config, MATBENCH_SEED)
        rep.section("Protocol")
        rep.text(
            f"{len(y)} rows of `{path.name}` in file order; {result['folds']}; the model "
            f"({desc}) is fitted on each training fold with fixed hyperparameters and "
            "scored by MAE on its test fold."
        )
        rep.section("Result")
        rep.text("```\n" + "\n".join(fold_lines) + "\n```")
        rep.text(
            f"matbench {task}: mean MAE {result['mae_mean']:.4f} ± "
            f"{result['mae_std']:.4f} ({seconds:.0f} s)"
        )
        rows = [{"model": "matml (this run)", "mean MAE": f"{result['mae_mean']:.4f}"}]
        rows += [
            {"model": k, "mean MAE": str(v)}
            for k, v in LEADERBOARD.get(task, {}).items()
        ]
        rep.section("Leaderboard (matbench v0.1, 2024-01-20)")
        rep.table(rows)
        rep.results = result
        rep.write()
    return result
