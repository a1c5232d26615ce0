"""``matml bench mlearn``: train on each element's ``training.json`` (validation split
from it), evaluate on its ``test.json``, and set the errors beside the published ones of
Zuo et al. (2020), J. Phys. Chem. A 124, 731.

Any folder laid out as ``<Element>/training.json`` + ``<Element>/test.json`` (mlearn's
JSON format) works; without one, the files come from the fetch + cache of
``matml data fetch``. Writes ``results.json``, ``report.md`` and, per element, the run
folder of ``matml train`` (``<El>/parity.png``, ``<El>/model.matml``, ...).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from matml.errors import ConfigError, InputError

__all__ = ["PUBLISHED", "DEFAULT_CONFIGS", "run_mlearn", "default_config"]

# Test-set errors published by Zuo et al. (2020): energy RMSE, meV/atom (Table 3), and
# force MAE, eV/Å, of GAP and MTP (as quoted in ../shared/data/mlearn/README.md and the
# issue that asked for this benchmark).
PUBLISHED = {
    "energy_rmse_mev_per_atom": {
        "GAP": {"Ni": 0.62, "Cu": 0.56, "Li": 0.63, "Mo": 3.55, "Si": 4.18, "Ge": 4.47},
        "MTP": {"Ni": 0.74, "Cu": 0.52, "Li": 0.66, "Mo": 3.89, "Si": 3.02, "Ge": 3.68},
        "NNP": {"Ni": 2.25, "Cu": 1.68, "Li": 0.98, "Mo": 5.67, "Si": 9.95, "Ge": 10.95},
        "SNAP": {"Ni": 1.17, "Cu": 0.87, "Li": 1.13, "Mo": 9.06, "Si": 8.06, "Ge": 10.96},
        "qSNAP": {"Ni": 1.04, "Cu": 1.16, "Li": 0.85, "Mo": 3.96, "Si": 6.28,
                  "Ge": 10.55},
    },
    "force_mae_ev_per_a": {
        "GAP": {"Li": 0.01, "Mo": 0.09, "Si": 0.07},
        "MTP": {"Li": 0.01, "Mo": 0.09, "Si": 0.06},
    },
}  # fmt: skip

# One configuration for every element (no per-element tuning); see README, "mlearn".
# The validation split is stratified by mlearn's structure group, so that each
# element's validation set holds a surface (a random 10 % of Mo's had none).
_COMMON = {
    "seed": 0,
    "dtype": "float32",
    "data": {"valid_fraction": 0.1, "split_seed": 0, "split_by": "group"},
}
DEFAULT_CONFIGS = {
    "descriptor": {
        **_COMMON,
        "model": {"name": "descriptor", "cutoff": 5.0, "max_order": 7, "max_degree": 3,
                  "two_body": 16, "hidden": [64, 64]},
        "train": {"epochs": 150, "batch_size": 4, "lr": 3e-4, "energy_weight": 100.0,
                  "forces_weight": 1.0, "stress_weight": 0.0, "n_buckets": 2,
                  "patience": 40, "max_seconds": 600.0, "ema_decay": 0.99},
    },
    "linear": {
        **_COMMON,
        "model": {"name": "linear", "cutoff": 5.0, "max_order": 7, "max_degree": 3,
                  "two_body": 16},
        "train": {"energy_weight": 100.0, "forces_weight": 1.0, "stress_weight": 0.0},
    },
    "pair": {
        **_COMMON,
        "model": {"name": "pair", "cutoff": 5.0, "hidden": [64, 64], "embedding": 8},
        "train": {"epochs": 200, "batch_size": 4, "lr": 3e-3, "energy_weight": 100.0,
                  "forces_weight": 1.0, "n_buckets": 2, "max_seconds": 780.0},
    },
}  # fmt: skip

# The equivariant models at MACE small's size (../shared/anchors/mace_speed.py): 32
# channels of 0e + 1o, l_max 3, two interactions, r_max 5 Å, radial MLP [64, 64, 64];
# mace adds the product basis (MACE small's correlation is 3; the benchmark's is 2).
# 13 minutes of training on a 2-core CPU.
_EQUIVARIANT = {
    "cutoff": 5.0,
    "channels": 32,
    "hidden_irreps": "0e + 1o",
    "max_ell": 3,
    "num_interactions": 2,
    "n_basis": 8,
    "radial_hidden": [64, 64, 64],
}
# The cosine schedule runs over `epochs`, sized to what fits in `max_seconds` here
# (mace takes about 13 s an epoch on mlearn Si, 12 on Li and 10 on Mo; nequip about
# 4x less), so that the learning rate has decayed when time is up. mace's 55 epochs
# (with correlation 3), against 45, gave validation errors (last epoch, meV/atom /
# eV/Å) Si 2.28 / 0.0619 against 2.68 / 0.0637, Li 1.14 / 0.0097 against 1.15 /
# 0.0124, Mo 5.40 / 0.0976 against 4.69 / 0.0950. The last fifth (of the epochs or of
# the time) is MACE's second stage: energy weighted 10x more against forces, by
# lowering the force weight, not raising the energy's (a raised weight jolts Adam; see
# matml.train.config._warn_rising_weights). With 45 epochs and energy at 1000 in place
# of forces at 0.1, mace's validation errors at the end were Li 1.26 / 0.0214, Mo 3.27
# / 0.107, Si 2.76 / 0.0674 against 1.15 / 0.0124, 4.69 / 0.0950, 2.68 / 0.0637. The
# stage-one energy weight, 10, was chosen on mlearn Si's validation split in 40-epoch
# runs (validation energy RMSE / force MAE: weight 1: 22.1 meV/atom / 0.173 eV/Å; 10:
# 8.27 / 0.143; 100: 10.5 / 0.167).
_EQUIVARIANT_TRAIN = {
    "batch_size": 4,
    "lr": 5e-3,
    "energy_weight": 10.0,
    "forces_weight": 1.0,
    "stress_weight": 0.0,
    "n_buckets": 2,
    "patience": 60,
    "max_seconds": 780.0,
    "ema_decay": 0.99,
    "stage_two_fraction": 0.2,
    "stage_two_forces_weight": 0.1,
}
DEFAULT_CONFIGS["mace"] = {
    **_COMMON,
    # correlation 2 (MACE small has 3): on mlearn's validation splits better on Li
    # and Mo in energy and forces, on Si better in forces and worse in energy (README)
    "model": {"name": "mace", **_EQUIVARIANT, "correlation": 2},
    # stress in the loss (mlearn gives every structure's): over seeds 0 and 1 the
    # validation energies and forces stay within the seed's spread (at seed 0 better
    # on every element's energy, at seed 1 worse), and the test stress error falls by
    # 16-68 % on every element at both seeds; README. It drops 10x in stage two, as
    # the forces do, so that the energy's share grows.
    "train": {**_EQUIVARIANT_TRAIN, "epochs": 55, "stress_weight": 100.0,
              "stage_two_stress_weight": 10.0},
}  # fmt: skip
DEFAULT_CONFIGS["nequip"] = {
    **_COMMON,
    "model": {"name": "nequip", **_EQUIVARIANT},
    "train": {**_EQUIVARIANT_TRAIN, "epochs": 150},
}  # fmt: skip


def default_config(model: str) -> dict:
    """The benchmark's configuration of ``model`` (a copy)."""
    if model not in DEFAULT_CONFIGS:
        from matml.models import MODELS

        if model not in MODELS:
            raise ConfigError(
                f"unknown model {model!r}; choose one of {', '.join(MODELS)}",
                field="--model",
            )
        return {**copy.deepcopy(_COMMON), "model": {"name": model, "cutoff": 5.0}}
    return copy.deepcopy(DEFAULT_CONFIGS[model])


def _element_files(data_dir: Path | None, element: str) -> tuple[Path, Path]:
    if data_dir is None:
        from matml.io import fetch_mlearn

        return fetch_mlearn(element, "training"), fetch_mlearn(element, "test")
    paths = (data_dir / element / "training.json", data_dir / element / "test.json")
    for p in paths:
        if not p.is_file():
            raise InputError(
                "missing: the benchmark needs <Element>/training.json and "
                "<Element>/test.json",
                file=p,
            )
    return paths


def elements_in(data_dir: Path) -> list[str]:
    """Element folders of ``data_dir`` holding both files."""
    return sorted(
        p.name
        for p in data_dir.iterdir()
        if (p / "training.json").is_file() and (p / "test.json").is_file()
    )


def _read(path: Path):
    from matml.io import read_mlearn, validate_structures

    atoms = read_mlearn(path)
    if not atoms:
        raise InputError("holds no structures", file=path)
    validate_structures(atoms, file=path, require=("energy", "forces"))
    return atoms


def run_mlearn(
    elements: list[str],
    model: str = "descriptor",
    *,
    config: dict | None = None,
    data_dir: Path | None = None,
    out: Path = Path("runs/bench-mlearn"),
    progress: bool = True,
    echo=print,
) -> dict:
    """Train and test ``model`` on each element; returns (and writes) the results."""
    from matml._files import write_json
    from matml.train.config import from_dict
    from matml.train.run import train_from_config

    raw = copy.deepcopy(config) if config is not None else default_config(model)
    raw.setdefault("model", {}).setdefault("name", model)
    from_dict(copy.deepcopy(raw))  # refuse a bad config before any work
    out = Path(out)
    files = {el: _element_files(data_dir, el) for el in elements}
    data = {el: (_read(tr), _read(te)) for el, (tr, te) in files.items()}
    results: dict = {"model": raw["model"]["name"], "config": raw, "elements": {}}
    for el in elements:
        train_atoms, test_atoms = data[el]
        echo(f"{el}: {len(train_atoms)} training and {len(test_atoms)} test structures")
        run_cfg = _for_element(raw, el, train_atoms, echo)
        t0 = time.perf_counter()
        res = train_from_config(
            run_cfg,
            out / el,
            progress=progress,
            train_atoms=train_atoms,
            test_atoms=test_atoms,
        )
        seconds = time.perf_counter() - t0
        m = res["test"]
        row = {
            "energy_rmse_mev_per_atom": m["energy_rmse"],
            "energy_mae_mev_per_atom": m["energy_mae"],
            "force_rmse_ev_per_a": m.get("forces_rmse"),
            "force_mae_ev_per_a": m.get("forces_mae"),
            "stress_rmse_gpa": m.get("stress_rmse"),
            "train_seconds": res.get("train_seconds", round(seconds, 2)),
            "wall_seconds": round(seconds, 2),
            "n_params": res.get("n_params"),
            "n_train": res.get("n_train"),
            "n_valid": res.get("n_valid"),
            "n_test": res.get("n_test"),
            "valid": res.get("valid"),
            "model": raw["model"]["name"],
            "config": raw,
            "parity_plot": str(Path(el) / "parity.png"),
        }
        if "ridge_alpha" in res:
            row["ridge_alpha"] = res["ridge_alpha"]
        for key in ("epochs_run", "stage_two_epoch"):
            if key in res:
                row[key] = res[key]
        by_group = _errors_by_group(out / el / "model.matml", test_atoms)
        if by_group:
            row["test_energy_by_group"] = by_group
        results["elements"][el] = row
        echo(_line(el, row))
        write_json(out / "results.json", results)  # partial results survive a kill
    write_json(out / "results.json", results)
    (out / "report.md").write_text(report(results))
    return results


def _for_element(raw: dict, el: str, train_atoms: list, echo=print) -> dict:
    """The run's config for one element: ``data.split_by`` and ``data.balance_by``
    (mlearn's groups) left out, with a note, where no training structure has the
    key (any folder of mlearn's layout works, with or without groups)."""
    cfg = copy.deepcopy(raw)
    data_cfg = cfg.get("data") or {}
    for key in ("split_by", "balance_by"):
        name = data_cfg.get(key)
        if name and not any(name in a.info for a in train_atoms):
            echo(f"{el}: no structure has {name!r}; data.{key} is not applied")
            data_cfg.pop(key)
    return cfg


def _errors_by_group(model_path: Path, atoms: list) -> dict:
    """Test energy errors per structure group (mlearn's ``group``), meV/atom: where a
    model's error comes from. Empty when the structures carry no group."""
    if not model_path.exists():
        return {}
    from matml.train.evaluate import energy_errors_by

    return energy_errors_by(model_path, atoms, "group")


def _line(el: str, row: dict) -> str:
    return (
        f"{el}: E RMSE {row['energy_rmse_mev_per_atom']:.2f} meV/atom, "
        f"MAE {row['energy_mae_mev_per_atom']:.2f}; F RMSE "
        f"{row['force_rmse_ev_per_a']:.3f} eV/Å, MAE {row['force_mae_ev_per_a']:.3f}; "
        f"{row['train_seconds']:.0f} s"
    )


def _fmt(x, digits=2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report(results: dict) -> str:
    """The markdown report: matml's errors beside the published table."""
    els = list(results["elements"])
    lines = [
        f"# mlearn benchmark: matml `{results['model']}`",
        "",
        "Test sets of Zuo et al. (2020); matml trained on each training set (a "
        "validation split taken from it), one configuration for every element.",
        "",
    ]
    for title, key, digits in (
        ("Energy RMSE, meV/atom", "energy_rmse_mev_per_atom", 2),
        ("Force MAE, eV/Å", "force_mae_ev_per_a", 3),
    ):
        ours = [results["elements"][e][key] for e in els]
        lines += [
            f"## {title}",
            "",
            "| model | " + " | ".join(els) + " |",
            "| --- | " + " | ".join("---" for _ in els) + " |",
            f"| **matml {results['model']}** | "
            + " | ".join(_fmt(x, digits) for x in ours)
            + " |",
        ]
        # the published table only: a peer measured here belongs to the same sitting
        # (benchmarks/peers.sh), not to a figure of another day
        for name, row in PUBLISHED[key].items():
            lines.append(
                f"| {name} | "
                + " | ".join(_fmt(row.get(e), digits) for e in els)
                + " |"
            )
        lines.append("")
    lines += [
        "## matml, all metrics",
        "",
        "| element | E RMSE meV/atom | E MAE | F RMSE eV/Å | F MAE | S RMSE GPa | "
        "train s | parameters |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in els:
        r = results["elements"][e]
        lines.append(
            f"| {e} | {_fmt(r['energy_rmse_mev_per_atom'])} | "
            f"{_fmt(r['energy_mae_mev_per_atom'])} | {_fmt(r['force_rmse_ev_per_a'], 3)} "
            f"| {_fmt(r['force_mae_ev_per_a'], 3)} | {_fmt(r['stress_rmse_gpa'], 3)} | "
            f"{r['train_seconds']:.0f} | {r['n_params']} |"
        )
    grouped = [e for e in els if results["elements"][e].get("test_energy_by_group")]
    if grouped:
        lines += [
            "",
            "## Test energy error by structure group, meV/atom",
            "",
            "| element | group | structures | RMSE | mean error |",
            "| --- | --- | --- | --- | --- |",
        ]
        for e in grouped:
            for g, r in results["elements"][e]["test_energy_by_group"].items():
                lines.append(
                    f"| {e} | {g} | {r['n']} | {_fmt(r['energy_rmse_mev_per_atom'])} "
                    f"| {_fmt(r['energy_mean_error_mev_per_atom'])} |"
                )
    lines += ["", "Parity plots: " + ", ".join(f"`{e}/parity.png`" for e in els), ""]
    return "\n".join(lines)
