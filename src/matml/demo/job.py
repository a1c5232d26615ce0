"""``matml demo``: the whole path on built-in data, in a few minutes on a laptop CPU.

1. make a copper data set with ASE's EMT (bulk, vacancy, surface, MD snapshots);
2. train matml's best potential on it (held-out test set kept apart);
3. print and save the test errors and a parity plot; save the model;
4. run NVE MD through the ASE calculator and report the energy drift.
"""

from __future__ import annotations

import time
from pathlib import Path

from matml._files import write_json

__all__ = ["DEMO_CONFIG", "run_demo"]

# The best model matml has for a metal today: pair network with EAM-like embedding.
DEMO_CONFIG = {
    "seed": 0,
    "dtype": "float32",
    "model": {"name": "pair", "cutoff": 5.0, "hidden": [32, 32], "embedding": 8},
    "data": {"valid_fraction": 0.1},
    "train": {
        "epochs": 150,
        "batch_size": 8,
        "lr": 5e-3,
        "energy_weight": 10.0,
        "forces_weight": 10.0,
        "stress_weight": 100.0,
        "ema_decay": 0.99,
        "patience": 50,
        "max_seconds": 200,
    },
}


def run_demo(
    out_dir="demo",
    *,
    n_structures: int = 200,
    epochs: int | None = None,
    md_steps: int = 1000,
    progress: bool = True,
) -> dict:
    """Run the demo; returns (and writes to ``out_dir/metrics.json``) its numbers."""
    import copy

    from matml.calculator import MatmlCalculator
    from matml.demo.emt_copper import make_emt_copper
    from matml.potential import load
    from matml.simulate import nve_drift
    from matml.train.run import train_from_config

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    atoms = make_emt_copper(n_structures, seed=0)
    # hold out every 5th structure of each kind as the test set
    test = atoms[::5]
    train = [a for i, a in enumerate(atoms) if i % 5]
    cfg = copy.deepcopy(DEMO_CONFIG)
    if epochs is not None:
        cfg["train"]["epochs"] = epochs
    results = train_from_config(
        cfg, out_dir, progress=progress, train_atoms=train, test_atoms=test
    )
    model = load(out_dir / "model.matml")
    from ase.build import bulk

    from matml.demo.emt_copper import A_CU

    crystal = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat((2, 2, 2))
    md = nve_drift(
        crystal, MatmlCalculator(model), steps=md_steps, temperature_K=300.0,
        progress=progress,
    )  # fmt: skip
    write_json(out_dir / "md.json", md)
    metrics = {
        "energy_rmse_mev_per_atom": results["test"]["energy_rmse"],
        "energy_mae_mev_per_atom": results["test"]["energy_mae"],
        "force_rmse_ev_per_a": results["test"]["forces_rmse"],
        "force_mae_ev_per_a": results["test"]["forces_mae"],
        "stress_rmse_gpa": results["test"].get("stress_rmse"),
        "md_energy_drift_mev_per_atom_per_ps": md["drift_mev_per_atom_per_ps"],
        "md_energy_fluctuation_mev_per_atom": md["fluctuation_mev_per_atom"],
        "md_mean_temperature_K": md["mean_temperature_K"],
        "n_train": results["n_train"] + results["n_valid"],
        "n_test": results["n_test"],
        "epochs_run": results["epochs_run"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(out_dir / "metrics.json", metrics)
    return metrics
