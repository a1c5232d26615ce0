"""``matml table demo``: the whole tour on data shipped inside pymatgen (no download).

The data: 2,135 experimental formation enthalpies from pymatgen's
``analysis/compatibility/exp_compounds.json.gz``, stored there per formula unit
(``exp energy``, eV) and divided here by the formula's number of atoms, so the target
``dHf_eV_per_atom`` does not simply grow with the size of the formula (Mo1000O2889). The tour: explore, fit, reduce, cluster; each writes its
own report under ``out/<step>/`` and ``out/report.md`` links them.
"""

from __future__ import annotations

import os
from pathlib import Path

from matml.errors import InputError
from matml.tabular.report import Report

__all__ = ["demo_data_path", "run_demo"]

TARGET = "dHf_eV_per_atom"


def demo_data_path() -> Path:
    """Path of pymatgen's ``exp_compounds.json.gz``."""
    import pymatgen.analysis.compatibility as compat

    path = Path(compat.__file__).parent / "exp_compounds.json.gz"
    if not path.is_file():
        raise InputError("pymatgen's exp_compounds.json.gz is missing", file=str(path))
    return path


def run_demo(
    out: str | os.PathLike,
    *,
    rows: int | None = None,
    cv: int = 5,
    models: list[str] | None = None,
    epochs: int = 150,
    k_max: int = 8,
    seed: int = 0,
    echo=print,
) -> dict:
    """Explore, fit, reduce and cluster the demo table; returns each step's results.

    The table used is written to ``out/exp_compounds.csv`` (formula, target).
    """
    import pandas as pd

    from matml.tabular.cluster import cluster_table
    from matml.tabular.explore import explore_table
    from matml.tabular.fit import fit_table
    from matml.tabular.reading import read_table
    from matml.tabular.reduce import reduce_table

    out = Path(out)
    from matml.tabular.reading import parse_formula

    raw = read_table(demo_data_path())
    atoms = [parse_formula(f).num_atoms for f in raw["formula"]]
    frame = pd.DataFrame({"formula": raw["formula"], TARGET: raw["exp energy"] / atoms})
    if rows is not None:
        if rows < 10:
            raise InputError(f"--rows must be at least 10, got {rows}", field="rows")
        frame = frame.sample(n=min(rows, len(frame)), random_state=seed).reset_index(
            drop=True
        )
    out.mkdir(parents=True, exist_ok=True)
    data = out / "exp_compounds.csv"
    from matml._files import atomic_path

    with atomic_path(data) as tmp:
        frame.to_csv(tmp, index=False)
    echo(f"demo data: {len(frame)} experimental formation enthalpies from pymatgen")
    kw = {"echo": echo}
    results = {}
    echo("== explore ==")
    results["explore"] = explore_table(data, TARGET, out / "explore", **kw)
    echo("== fit ==")
    results["fit"] = fit_table(
        data, TARGET, out / "fit", models=models, cv=cv, seed=seed, **kw
    )
    echo("== reduce ==")
    results["reduce"] = reduce_table(
        data, out / "reduce", target=TARGET, k=5, epochs=epochs, cv=cv, seed=seed, **kw
    )
    echo("== cluster ==")
    results["cluster"] = cluster_table(
        data, out / "cluster", k_max=k_max, seed=seed, **kw
    )
    rep = Report(
        out,
        "matml table demo: experimental formation enthalpies",
        {
            "command": "table demo",
            "rows": len(frame),
            "cv": cv,
            "models": models,
            "epochs": epochs,
            "k_max": k_max,
            "data": str(demo_data_path()),
        },
        seed,
    )
    fit = results["fit"]
    best = fit["best"]
    lin = {r["inputs"]: r["mae"] for r in results["reduce"].get("linear_fit", [])}
    rep.section("The tour")
    rep.text(
        f"- [explore](explore/report.md): {len(frame)} compounds, "
        f"{len(results['explore']['elements'])} elements.\n"
        f"- [fit](fit/report.md): best model **{best}**, {cv}-fold CV MAE "
        f"{fit['metrics'][best]['mae']:.4g} eV/atom, R² {fit['metrics'][best]['r2']:.4g}.\n"
        f"- [reduce](reduce/report.md): 90% of the variance in "
        f"{results['reduce']['components_for_90pct']} components; ridge MAE "
        + ", ".join(f"{k} {v:.4g}" for k, v in lin.items())
        + ".\n"
        f"- [cluster](cluster/report.md): best k by silhouette "
        f"{results['cluster']['best_k_kmeans']} (k-means).\n"
    )
    rep.results = {
        k: {
            kk: vv
            for kk, vv in v.items()
            if kk
            in (
                "metrics",
                "best",
                "linear_fit",
                "components_for_90pct",
                "best_k_kmeans",
                "rows",
            )
        }
        for k, v in results.items()
    }
    rep.write()
    echo(f"demo report: {out / 'report.md'}")
    return results
