"""mlearn Si as a user would do it: download, train the descriptor potential, test it
against the published table, then 5 ps of NVT molecular dynamics of a 64-atom cell
with the trained model (temperature and energy plotted).

    python examples/mlearn_si.py [--out runs/mlearn_si] [--model descriptor|linear]
                                 [--data-dir ../shared/data/mlearn] [--md-ps 5]

Without ``--data-dir`` the mlearn files are downloaded once and cached (as
``matml data fetch mlearn --element Si``). Training uses ``matml bench mlearn``'s
default configuration (about 15 minutes on a 2-core CPU for the network, under 2 for
``--model linear``); the MD run takes a few minutes more.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/mlearn_si"))
    p.add_argument("--model", default="descriptor")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--md-ps", type=float, default=5.0, help="NVT length, ps")
    p.add_argument("--temperature", type=float, default=600.0, help="K")
    args = p.parse_args()

    from matml.bench.mlearn import run_mlearn

    # 1. train on Si/training.json (a validation split from it), test on Si/test.json
    results = run_mlearn(["Si"], args.model, data_dir=args.data_dir, out=args.out)
    row = results["elements"]["Si"]
    print(
        f"test: E RMSE {row['energy_rmse_mev_per_atom']:.2f} meV/atom (GAP 4.18, "
        f"MTP 3.02), F MAE {row['force_mae_ev_per_a']:.3f} eV/Å (GAP 0.07, MTP 0.06)"
    )
    model_path = args.out / "Si" / "model.matml"

    # 2. NVT molecular dynamics of 64 atoms with the trained model
    md = run_nvt(model_path, args.md_ps, args.temperature, args.out / "md")
    print(json.dumps(md, indent=2))


def run_nvt(model_path: Path, ps: float, temperature: float, out: Path) -> dict:
    """Langevin NVT of a 64-atom diamond cell; writes md.json, md.png, md.traj."""
    import numpy as np
    from ase import units
    from ase.build import bulk
    from ase.io import Trajectory
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from matml._plots import new_figure, save_figure
    from matml.calculator import MatmlCalculator

    out.mkdir(parents=True, exist_ok=True)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))  # 64 atoms
    atoms.calc = MatmlCalculator(model_path)
    MaxwellBoltzmannDistribution(
        atoms, temperature_K=temperature, rng=np.random.default_rng(0)
    )
    timestep_fs = 2.0
    dyn = Langevin(atoms, timestep_fs * units.fs, temperature_K=temperature,
                   friction=0.01 / units.fs, rng=np.random.default_rng(1))  # fmt: skip
    traj = Trajectory(out / "md.traj", "w", atoms)
    t, temp, epot, etot = [], [], [], []

    def record():
        t.append(dyn.get_time() / (1000 * units.fs))
        temp.append(atoms.get_temperature())
        e = atoms.get_potential_energy() / len(atoms)
        epot.append(e)
        etot.append(e + atoms.get_kinetic_energy() / len(atoms))

    dyn.attach(record, interval=5)
    dyn.attach(traj.write, interval=50)
    steps = int(round(ps * 1000 / timestep_fs))
    dyn.run(steps)
    traj.close()
    fig, axes = new_figure(2, 1, size=(5.0, 3.5))
    a1, a2 = axes[0]
    a1.plot(t, temp)
    a1.axhline(temperature, color="k", lw=0.8, ls="--")
    a1.set(xlabel="time (ps)", ylabel="temperature (K)", title="Langevin NVT, 64 Si")
    a2.plot(t, epot, label="potential")
    a2.plot(t, etot, label="total")
    a2.set(xlabel="time (ps)", ylabel="energy (eV/atom)")
    a2.legend()
    save_figure(fig, out / "md.png")
    half = len(temp) // 2
    result = {
        "steps": steps,
        "timestep_fs": timestep_fs,
        "target_temperature_K": temperature,
        "mean_temperature_K_second_half": float(np.mean(temp[half:])),
        "std_temperature_K_second_half": float(np.std(temp[half:])),
        "mean_potential_energy_ev_per_atom": float(np.mean(epot[half:])),
        "shapes_compiled": len(atoms.calc.shapes_seen),
        "plot": str(out / "md.png"),
    }
    (out / "md.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
