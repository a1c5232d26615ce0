"""NVE molecular dynamics with a trained model: energy drift per atom per ps.

A diamond Si cell (cubic x4 = 512 atoms by default, a = 5.43 Å, rattled 0.02 Å) with
Maxwell-Boltzmann velocities at twice the target temperature (equipartition halves it),
velocity Verlet through ``MatmlCalculator`` (float32 unless the model says otherwise),
energy + forces every step, with the calculator's Verlet neighbour list (``--skin``, Å;
0 rebuilds it every step). The drift is the slope of a straight-line fit of the total
energy per atom against time.

    matml bench mlearn --model nequip --elements Si --out runs/si --data-dir DIR
    python benchmarks/md_nve.py --model runs/si/Si/model.matml \\
        [--temperature 1000] [--ps 10] [--timestep 1.0] [--repeat 4] [--skin 1.0] \\
        [--out benchmarks/results/md_nve_si.json]

Writes the JSON record (drift, fluctuation, mean temperature, wall time, µs/atom/step,
shapes compiled, neighbour-list builds, the model) and a PNG beside it (total energy and temperature against
time).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def model_provenance(path: Path) -> dict:
    """The saved model's header (architecture, E0s, best epoch) and, when the model is
    a run folder's ``model.matml``, that run's training config (``run.json`` beside
    it) and, from ``matml bench mlearn``'s ``results.json`` above it, its test errors."""
    from matml.potential.serialization import read_header

    header = read_header(path)
    out = {k: header.get(k) for k in ("model", "model_config", "dtype", "extra")}
    run = path.parent / "run.json"
    if run.exists():
        out["train_config"] = json.loads(run.read_text()).get("config", {}).get("train")
    bench = path.parent.parent / "results.json"
    if bench.exists():
        row = json.loads(bench.read_text()).get("elements", {}).get(path.parent.name)
        if row:
            keys = ("energy_rmse_mev_per_atom", "force_mae_ev_per_a", "train_seconds")
            out["mlearn_test"] = {k: row.get(k) for k in keys}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="a saved .matml model for Si")
    p.add_argument("--temperature", type=float, default=1000.0, help="K")
    p.add_argument("--ps", type=float, default=10.0, help="simulated time, ps")
    p.add_argument("--timestep", type=float, default=1.0, help="fs")
    p.add_argument("--repeat", type=int, default=4, help="cubic cells per side")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--skin", type=float, default=1.0, help="Verlet skin, Å (0: rebuild each step)"
    )
    p.add_argument("--out", default=str(HERE / "results" / "md_nve_si.json"))
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)

    from ase.build import bulk

    from matml._files import write_json
    from matml._plots import new_figure, save_figure
    from matml.calculator import MatmlCalculator
    from matml.potential import load
    from matml.simulate import nve_drift

    model = load(a.model)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(a.repeat)
    atoms.rattle(0.02, seed=a.seed)
    calc = MatmlCalculator(model, skin=a.skin)
    steps = int(round(a.ps * 1000.0 / a.timestep))
    t0 = time.perf_counter()
    md = nve_drift(atoms, calc, steps=steps, timestep_fs=a.timestep,
                   temperature_K=a.temperature, seed=a.seed,
                   progress=not a.no_progress)  # fmt: skip
    wall = time.perf_counter() - t0
    n = len(atoms)
    t = np.asarray(md["time_ps"])
    e = np.asarray(md["total_energy_ev_per_atom"])
    temps = np.asarray(md["temperature_K"])
    second_half = t >= t[-1] / 2
    record = {
        "benchmark": "NVE MD, diamond Si",
        "model_path": str(a.model),
        "model": model.model_name,
        "dtype": str(np.dtype(model.dtype)),
        "atoms": n,
        "target_temperature_K": a.temperature,
        "initial_velocities_K": 2 * a.temperature,
        "timestep_fs": a.timestep,
        "steps": steps,
        "simulated_ps": round(float(t[-1]), 4),
        "drift_mev_per_atom_per_ps": md["drift_mev_per_atom_per_ps"],
        "fluctuation_mev_per_atom": md["fluctuation_mev_per_atom"],
        "max_deviation_from_start_mev_per_atom": float(np.abs(e - e[0]).max() * 1e3),
        "mean_temperature_K": md["mean_temperature_K"],
        "mean_temperature_second_half_K": float(temps[second_half].mean()),
        "wall_seconds": round(wall, 1),
        "us_per_atom_step": round(wall / steps / n * 1e6, 2),
        "calculator_shapes_compiled": len(calc.shapes_seen),
        "skin": a.skin,
        "neighbour_list_builds": calc.neighbors.builds,
        "radial_table": calc.radial_table,
        "model_header": model_provenance(Path(a.model)),
        "command": shlex.join(
            [
                "python",
                "benchmarks/md_nve.py",
                *(sys.argv[1:] if argv is None else argv),
            ]
        ),
        "every_100th": {
            "time_ps": t[::100].tolist(),
            "total_energy_ev_per_atom": e[::100].tolist(),
            "temperature_K": temps[::100].tolist(),
        },
    }
    out = Path(a.out)
    write_json(out, record)
    fig, axes = new_figure(2, 1, size=(4.6, 3.4))
    axes[0, 0].plot(t, (e - e[0]) * 1e3, lw=0.8)
    axes[0, 0].set_xlabel("time (ps)")
    axes[0, 0].set_ylabel("total energy - start (meV/atom)")
    axes[0, 0].set_title(f"drift {record['drift_mev_per_atom_per_ps']:.2g} meV/atom/ps")
    axes[0, 1].plot(t, temps, lw=0.8, color="C3")
    axes[0, 1].axhline(a.temperature, color="k", lw=0.6, ls="--")
    axes[0, 1].set_xlabel("time (ps)")
    axes[0, 1].set_ylabel("temperature (K)")
    axes[0, 1].set_title(f"{n} Si atoms, {model.model_name}")
    save_figure(fig, out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in record.items() if k != "every_100th"}, indent=1))
    print(f"wrote {out} and {out.with_suffix('.png')}")
    return record


if __name__ == "__main__":
    main()
