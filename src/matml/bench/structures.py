"""``matml bench structures``: elastic moduli of 2,574 MP compounds from their structures.

Data: ``mp_elastic_structures.json.gz`` (pandas split-JSON: ``formula``,
``bulk_modulus``, ``shear_modulus`` in GPa, ``structure`` as a pymatgen dict, ...).
Rows without a structure or with a non-positive modulus are dropped (and counted);
the targets are log10(K_VRH) and log10(G_VRH).

Folds: ``KFold(n_splits=5, shuffle=True, random_state=18012019)`` over the kept rows
in file order, decided once (:func:`make_folds`) and used by every model and target.
Each model is fitted on each training fold with hyperparameters fixed in advance and
scored by MAE on its test fold (log10 GPa); the score is the mean over the 5 folds.

Models (:data:`MODELS`, name -> function giving out-of-fold predictions):

* ``composition``: matml's composition pipeline on the formulas
  (:func:`matml.tabular.bench.default_pipeline`: Magpie + stoichiometry + element
  fractions -> extra trees): the baseline.
* ``invariants``: the same pipeline with structure columns added: the mean and the
  standard deviation over a structure's atoms of per-atom moment invariants
  (:class:`matml.descriptors.MomentInvariants`, cutoff 5 Å, N = 5, degree <= 2) of
  two neighbour densities, one where every neighbour weighs 1 (geometry) and one
  weighted by the neighbour's Pauling electronegativity (chemistry of the
  environment), plus the volume per atom and the density.

A new model (an equivariant network with a per-structure head, say) is a function
``f(data, target, folds, options) -> predictions [n]`` (each row predicted by the
model of the fold that holds it out) added to :data:`MODELS`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from matml.bench.structure_equivariant import equivariant_model
from matml.bench.structure_features import invariant_features
from matml.errors import InputError
from matml.tabular.bench import LEADERBOARD, MATBENCH_SEED

__all__ = [
    "DEFAULT_DATA",
    "MODELS",
    "TARGETS",
    "BenchOptions",
    "check_names",
    "StructureSet",
    "load_structures",
    "make_folds",
    "report",
    "run_structures",
]

#: the file of the shared data folder (``../shared/data`` beside the repository)
DEFAULT_DATA = Path("../shared/data/tables/mp_elastic_structures.json.gz")
#: target name -> column of moduli (GPa); the target is its log10
TARGETS = {"log_kvrh": "bulk_modulus", "log_gvrh": "shear_modulus"}
_NOTE = (
    "matbench v0.1 leaderboard (2024-01-20) on its own 10,987-compound set and folds "
    "(other compounds, other folds): for scale only, not comparable row by row"
)


@dataclass
class StructureSet:
    """The kept rows: structures (``ase.Atoms``), formulas, ids and log10 targets."""

    atoms: list
    formulas: list[str]
    ids: list[str]
    targets: dict[str, np.ndarray]
    notes: list[str]
    source: str
    n_rows: int
    cache: dict = field(default_factory=dict)  # features shared by models and targets

    def __len__(self) -> int:
        return len(self.atoms)


@dataclass
class BenchOptions:
    """Settings shared by the models (fixed in advance; nothing is tuned per fold)."""

    n_estimators: int = 500
    n_jobs: int = 2
    cutoff: float = 5.0
    max_order: int = 5
    max_degree: int = 2
    #: neighbour weights: ``"one"`` (geometry) or a pymatgen ``Element`` attribute
    weights: tuple[str, ...] = ("one", "X")
    stats: tuple[str, ...] = ("mean", "std")
    cell: bool = True  # volume per atom and density
    atom_budget: int = 2048  # atoms per jitted call
    progress: bool = False
    # the equivariant model: training time and epochs (the schedule's length) per fold
    equivariant_minutes: float = 5.0
    equivariant_epochs: int = 40


def load_structures(path: str | os.PathLike, limit: int | None = None) -> StructureSet:
    """Read the split-JSON file; drop rows without a structure or a positive modulus.

    ``limit`` keeps the first ``limit`` usable rows (for quick runs).

    Raises:
        InputError: naming the file when it is missing, unreadable or lacks a column,
            or an entry whose structure cannot be read.
    """
    import pandas as pd
    from ase import Atoms
    from pymatgen.core import Structure

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=path)
    try:
        df = pd.read_json(path, orient="split")
    except (ValueError, OSError, EOFError) as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"not a pandas split-JSON table ({msg})", file=path) from None
    for col in ("formula", "structure", "material_id", *TARGETS.values()):
        if col not in df.columns:
            raise InputError("missing column", file=path, field=col)
    has_structure = df["structure"].map(lambda s: isinstance(s, dict)).to_numpy()
    moduli = {
        c: pd.to_numeric(df[c], errors="coerce").to_numpy() for c in TARGETS.values()
    }
    positive = np.ones(len(df), bool)
    for values in moduli.values():
        positive &= np.isfinite(values) & (values > 0)
    notes = [f"{len(df)} rows in `{path.name}`"]
    if (~has_structure).any():
        notes.append(f"{int((~has_structure).sum())} rows without a structure: dropped")
    for c, values in moduli.items():
        bad = has_structure & ~(np.isfinite(values) & (values > 0))
        notes.append(
            f"{int(bad.sum())} rows with a missing or non-positive {c}: dropped"
        )
    keep = np.flatnonzero(has_structure & positive)
    if limit is not None:
        keep = keep[:limit]
        notes.append(f"--limit {limit}: the first {len(keep)} usable rows kept")
    if len(keep) < 10:
        raise InputError(
            f"only {len(keep)} usable rows (need 10 for 5 folds)", file=path
        )
    atoms = []
    for i in keep:
        try:
            s = Structure.from_dict(df["structure"].iloc[i])
        except Exception as err:  # pymatgen raises many kinds
            raise InputError(
                f"not a pymatgen structure ({type(err).__name__})",
                file=path,
                entry=int(i),
                field="structure",
            ) from None
        atoms.append(
            Atoms(
                numbers=[site.specie.Z for site in s],
                positions=s.cart_coords,
                cell=s.lattice.matrix,
                pbc=True,
            )
        )
    notes.append(f"{len(keep)} rows kept; folds over these in file order")
    return StructureSet(
        atoms=atoms,
        formulas=[str(f) for f in df["formula"].iloc[keep]],
        ids=[str(m) for m in df["material_id"].iloc[keep]],
        targets={t: np.log10(moduli[c][keep]) for t, c in TARGETS.items()},
        notes=notes,
        source=str(path),
        n_rows=len(df),
    )


def make_folds(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 5 (train, test) index pairs every model uses (matbench's KFold)."""
    from sklearn.model_selection import KFold

    kf = KFold(n_splits=5, shuffle=True, random_state=MATBENCH_SEED)
    return list(kf.split(np.arange(n)))


# -- models ----------------------------------------------------------------------------
def _extra_trees(opts: BenchOptions):
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(
        opts.n_estimators, max_features=0.5, random_state=0, n_jobs=opts.n_jobs
    )


def _cross_predict(model, frame, y, folds) -> np.ndarray:
    from sklearn.base import clone

    pred = np.full(len(y), np.nan)
    for train, test in folds:
        fitted = clone(model).fit(frame.iloc[train], y[train])
        pred[test] = fitted.predict(frame.iloc[test])
    return pred


def composition_model(data: StructureSet, target: str, folds, opts: BenchOptions):
    """matml's composition pipeline on the formulas (the baseline)."""
    import pandas as pd

    from matml.tabular.bench import default_pipeline

    model = default_pipeline(target, n_jobs=opts.n_jobs, n_estimators=opts.n_estimators)
    frame = pd.DataFrame({"formula": data.formulas})
    return _cross_predict(model, frame, data.targets[target], folds)


def invariants_model(data: StructureSet, target: str, folds, opts: BenchOptions):
    """matml's composition pipeline with structure-averaged moment invariants added."""
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from matml.tabular.featurize import DEFAULT_FEATURES, composition_features

    if "invariants" not in data.cache:
        t0 = time.perf_counter()
        X, names = invariant_features(
            data.atoms,
            stats=opts.stats,
            cell=opts.cell,
            cutoff=opts.cutoff,
            max_order=opts.max_order,
            max_degree=opts.max_degree,
            weights=opts.weights,
            atom_budget=opts.atom_budget,
            progress=opts.progress,
        )
        data.cache["invariants"] = (X, names, time.perf_counter() - t0)
    X, names, _ = data.cache["invariants"]
    cols = [f"s{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=cols)
    frame.insert(0, "formula", data.formulas)
    model = Pipeline(
        [
            ("features", composition_features("formula", cols, DEFAULT_FEATURES)),
            ("model", _extra_trees(opts)),
        ]
    )
    return _cross_predict(model, frame, data.targets[target], folds)


#: model name -> f(data, target, folds, options) -> out-of-fold predictions [n]
MODELS: dict[str, Callable] = {
    "composition": composition_model,
    "invariants": invariants_model,
    "equivariant": equivariant_model,
}


# -- the benchmark -----------------------------------------------------------------
def check_names(models, targets) -> None:
    """Raise ``InputError`` for a model or target name that is not known."""
    for kind, names, known in (("model", models, MODELS), ("target", targets, TARGETS)):
        for name in names:
            if name not in known:
                raise InputError(
                    f"unknown {kind} {name!r} (use {', '.join(known)})",
                    field=f"{kind}s",
                )
        if not names:
            raise InputError(f"no {kind}s given", field=f"{kind}s")


def run_structures(
    data: StructureSet,
    models: list[str] | tuple[str, ...] = ("composition", "invariants"),
    targets: list[str] | tuple[str, ...] = tuple(TARGETS),
    out: str | os.PathLike | None = None,
    opts: BenchOptions | None = None,
    *,
    command: str | None = None,
    echo=print,
) -> dict:
    """Cross-validate every model on every target over the same 5 folds.

    Returns (and, with ``out``, writes as ``out/results.json`` beside ``report.md``)
    a dict: ``results[target][model]`` holds ``mae_mean``, ``mae_std``, ``fold_maes``
    and ``seconds`` (fits and predictions; the structure features, computed once
    for all targets, are timed apart in ``feature_seconds``), plus the folds' test
    indices, the data notes and the leaderboard numbers for scale.
    """
    opts = opts or BenchOptions()
    check_names(models, targets)
    folds = make_folds(len(data))
    results: dict = {t: {} for t in targets}
    for t in targets:
        y = data.targets[t]
        for m in models:
            cached = set(data.cache)
            t0 = time.perf_counter()
            pred = MODELS[m](data, t, folds, opts)
            seconds = time.perf_counter() - t0
            # a model's one-off features (shared with later targets) are timed apart
            for key in set(data.cache) - cached:
                seconds -= data.cache[key][-1]
            maes = [float(np.mean(np.abs(pred[te] - y[te]))) for _, te in folds]
            results[t][m] = {
                "mae_mean": float(np.mean(maes)),
                "mae_std": float(np.std(maes)),
                "fold_maes": maes,
                "seconds": seconds,
            }
            echo(
                f"{t} {m:>12}: MAE {np.mean(maes):.4f} ± {np.std(maes):.4f} "
                f"(folds {', '.join(f'{x:.4f}' for x in maes)}; {seconds:.0f} s)"
            )
    summary = {
        "data": data.source,
        "n_rows": data.n_rows,
        "n_kept": len(data),
        "n_atoms": int(sum(len(a) for a in data.atoms)),
        "notes": data.notes,
        "folds": f"KFold(n_splits=5, shuffle=True, random_state={MATBENCH_SEED}) "
        "over the kept rows in file order",
        "fold_test_indices": [te.tolist() for _, te in folds],
        "targets": "log10 of the Voigt-Reuss-Hill modulus in GPa",
        "options": {k: v for k, v in vars(opts).items() if k != "progress"},
        "feature_seconds": {k: v[-1] for k, v in data.cache.items()},
        "feature_counts": {k: len(v[1]) for k, v in data.cache.items()},
        "models": {
            m: ((MODELS[m].__doc__ or "").strip().splitlines() or [m])[0]
            for m in models
        },
        "results": results,
        "leaderboard": {t: LEADERBOARD[t] for t in targets},
        "leaderboard_note": _NOTE,
    }
    if "_equivariant_log" in data.__dict__:
        from matml.bench.structure_equivariant import CONFIG

        summary["equivariant"] = {
            "model": ", ".join(f"{k} {v}" for k, v in CONFIG.items()),
            "minutes_per_fold": opts.equivariant_minutes,
            "epochs": opts.equivariant_epochs,
            "folds": data.__dict__["_equivariant_log"],
        }
    if out is not None:
        from matml.tabular.report import Report

        config = {
            "command": command or "bench structures",
            "data": data.source,
            "models": ",".join(models),
            "targets": ",".join(targets),
            **summary["options"],
        }
        rep = Report(out, "Elastic moduli from structures", config, MATBENCH_SEED)
        rep.text(report(summary))
        rep.results = summary
        rep.write()
    return summary


def report(summary: dict) -> str:
    """Markdown: protocol, data notes and the models side by side per target."""
    from matml.tabular.report import markdown_table

    res = summary["results"]
    models = list(next(iter(res.values())))
    lines = [
        "## Protocol\n",
        f"{summary['n_kept']} compounds ({summary['n_atoms']} atoms) of "
        f"`{Path(summary['data']).name}`; targets log10(K_VRH), log10(G_VRH) (GPa); "
        f"{summary['folds']}, the same folds for every model and target; each model is "
        "fitted on the training folds with fixed hyperparameters and scored by MAE "
        "(log10 GPa) on the test fold.\n",
        "Data notes:\n",
        *[f"- {n}" for n in summary["notes"]],
        "",
        "Models:\n",
        *[f"- `{m}`: {d}" for m, d in summary["models"].items()],
        "",
    ]
    o = summary["options"]
    lines.append(
        f"Invariant settings: cutoff {o['cutoff']} Å, N = {o['max_order']}, degree <= "
        f"{o['max_degree']}, neighbour weights {', '.join(o['weights'])}, statistics "
        f"over atoms {', '.join(o['stats'])}, volume per atom and density "
        f"{'added' if o['cell'] else 'left out'}; extra trees, {o['n_estimators']} "
        "trees, max_features=0.5.\n"
    )
    eq = summary.get("equivariant")
    if eq:
        lines.append(
            f"Equivariant model: {eq['model']}, one scalar head per target (structure "
            f"mean), {eq['minutes_per_fold']} min and at most {eq['epochs']} epochs "
            "per fold, one model for both targets (the second target's seconds are "
            "near zero); per fold: "
            + "; ".join(
                f"{r['epochs_run']} epochs (best {r['best_epoch']}), "
                f"{r['seconds']:.0f} s"
                for r in eq["folds"]
            )
            + ".\n"
        )
    for k, s in summary["feature_seconds"].items():
        lines.append(
            f"Structure features `{k}`: {summary['feature_counts'][k]} per structure, "
            f"computed once in {s:.1f} s.\n"
        )
    lines.append("## Mean MAE over the 5 folds (± std over folds), log10 GPa\n")
    rows = []
    for t, by_model in res.items():
        row = {"target": t}
        for m in models:
            r = by_model[m]
            row[m] = f"{r['mae_mean']:.4f} ± {r['mae_std']:.4f}"
        board = summary["leaderboard"].get(t, {})
        for name in ("best", "MODNet", "RF-SCM/Magpie"):
            if name in board:
                row[f"matbench {name}*"] = f"{board[name]:.4f}"
        rows.append(row)
    lines += [markdown_table(rows), "", f"\\* {summary['leaderboard_note']}.", ""]
    lines.append("## Per fold\n")
    rows = [
        {
            "target": t,
            "model": m,
            **{f"fold {i}": f"{x:.4f}" for i, x in enumerate(r["fold_maes"])},
            "seconds": f"{r['seconds']:.0f}",
        }
        for t, by_model in res.items()
        for m, r in by_model.items()
    ]
    lines += [markdown_table(rows), ""]
    return "\n".join(lines)
