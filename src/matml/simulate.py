"""Short simulations with any ASE calculator: NVE energy drift."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet

__all__ = ["nve_drift"]


def nve_drift(
    atoms: Atoms,
    calculator,
    *,
    steps: int = 1000,
    timestep_fs: float = 1.0,
    temperature_K: float = 300.0,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Run velocity-Verlet NVE from Maxwell-Boltzmann velocities; measure the drift.

    Returns the drift of the total energy (slope of a straight-line fit, meV/atom/ps),
    its RMS fluctuation about that line (meV/atom), the mean temperature (K), and the
    time series (total energy per atom and temperature, every step).
    """
    atoms = atoms.copy()
    atoms.calc = calculator
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=2 * temperature_K, rng=rng)
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    n = len(atoms)
    times, totals, temps = [], [], []

    def record():
        epot = atoms.get_potential_energy()
        ekin = atoms.get_kinetic_energy()
        times.append(dyn.nsteps * timestep_fs / 1000.0)  # ps
        totals.append((epot + ekin) / n)
        temps.append(atoms.get_temperature())

    dyn.attach(record, interval=1)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="NVE MD", unit="step", leave=False)
        dyn.attach(lambda: bar.update(1), interval=1)
    dyn.run(steps)
    if bar is not None:
        bar.close()
    t, e = np.array(times), np.array(totals)
    slope, intercept = np.polyfit(t, e, 1)
    resid = e - (slope * t + intercept)
    return {
        "drift_mev_per_atom_per_ps": float(slope * 1000.0),
        "fluctuation_mev_per_atom": float(resid.std() * 1000.0),
        "mean_temperature_K": float(np.mean(temps)),
        "steps": steps,
        "timestep_fs": timestep_fs,
        "time_ps": t.tolist(),
        "total_energy_ev_per_atom": e.tolist(),
        "temperature_K": [float(x) for x in temps],
    }
