"""A copper data set labelled with ASE's EMT calculator (no download needed).

Rattled and strained bulk cells, a vacancy, a (111) surface slab, and snapshots of short
Langevin MD runs at two temperatures: the kinds of structure a real training set for a
metal holds. Reference values are stored under :mod:`matml.keys` (info/arrays, not a
calculator).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

from matml import keys

__all__ = ["make_emt_copper", "label"]

A_CU = 3.59  # EMT's equilibrium lattice constant of Cu is close to 3.59 Å


def label(atoms: Atoms, calc=None) -> Atoms:
    """A copy of ``atoms`` with EMT energy, forces and (periodic) stress stored."""
    atoms = atoms.copy()
    atoms.calc = calc or EMT()
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress() if atoms.pbc.all() else None
    atoms.calc = None
    atoms.info[keys.ENERGY] = float(energy)
    atoms.arrays[keys.FORCES] = np.array(forces)
    if stress is not None:
        atoms.info[keys.STRESS] = np.array(stress)
    return atoms


def make_emt_copper(n: int = 160, seed: int = 0) -> list[Atoms]:
    """About ``n`` labelled Cu structures of 23-36 atoms (fcc bulk, vacancy, slab, MD)."""
    rng = np.random.default_rng(seed)
    cubic = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat((2, 2, 2))  # 32 atoms
    out: list[Atoms] = []
    per = max(n // 5, 1)

    for _ in range(per):  # rattled and strained bulk
        a = cubic.copy()
        strain = np.eye(3) + rng.uniform(-0.04, 0.04, (3, 3))
        strain = 0.5 * (strain + strain.T)
        a.set_cell(a.cell[:] @ strain, scale_atoms=True)
        a.positions += rng.normal(0, 0.08, a.positions.shape)
        out.append(label(a))
        out[-1].info[keys.GROUP] = "bulk"

    for _ in range(per):  # vacancy
        a = cubic.copy()
        del a[int(rng.integers(len(a)))]
        a.positions += rng.normal(0, 0.06, a.positions.shape)
        out.append(label(a))
        out[-1].info[keys.GROUP] = "vacancy"

    slab = fcc111("Cu", size=(3, 3, 3), a=A_CU, vacuum=6.0, periodic=True)  # 27 atoms
    for _ in range(per):
        a = slab.copy()
        a.positions += rng.normal(0, 0.07, a.positions.shape)
        out.append(label(a))
        out[-1].info[keys.GROUP] = "surface"

    for temperature in (300.0, 900.0):  # short MD
        a = cubic.copy()
        a.calc = EMT()
        MaxwellBoltzmannDistribution(a, temperature_K=temperature, rng=rng)
        dyn = Langevin(
            a,
            2 * units.fs,
            temperature_K=temperature,
            friction=0.02,
            rng=rng,
            fixcm=False,
        )
        for _ in range(per):
            dyn.run(10)
            snap = a.copy()
            out.append(label(snap))
            out[-1].info[keys.GROUP] = f"md{int(temperature)}K"
    return out
