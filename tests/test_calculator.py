"""The ASE calculator: finite differences through ASE, stress, MD, bad input."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.test import calculate_numerical_forces, gradient_test
from ase.filters import FrechetCellFilter

from matml.calculator import MatmlCalculator
from matml.data import bucket
from matml.errors import InputError
from matml.potential import Potential, save
from matml.testing import relative_error


@pytest.fixture(scope="module")
def potential():
    return Potential(
        "pair",
        ["Cu"],
        cutoff=4.5,
        model_config={"hidden": [16, 16], "embedding": 4},
        rngs=7,
        e0=[-3.5],
        scale=1.0,
        dtype=jnp.float64,
    )


def rattled(seed=0):
    a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0, 0.08, a.positions.shape)
    a.set_cell(a.cell[:] @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), scale_atoms=True)
    return a


def test_gradient_test_forces(potential):
    atoms = rattled()
    atoms.calc = MatmlCalculator(potential)
    f, fn = gradient_test(atoms)  # ASE's table; its last row (eps 1e-8) is round-off
    assert np.abs(f).max() > 1e-2
    assert relative_error(f, fn) < 1e-4
    # the same central differences at the step where they are most accurate
    assert relative_error(f, calculate_numerical_forces(atoms, 1e-5)) < 1e-6


def test_gradient_test_stress_through_cell_filter(potential):
    atoms = rattled(1)
    atoms.calc = MatmlCalculator(potential)
    filt = FrechetCellFilter(atoms)
    cell_rows = [len(atoms), len(atoms) + 1, len(atoms) + 2]
    # the filter's last three rows are the virial (stress times volume) of the cell
    f, fn = gradient_test(filt, indices=cell_rows)
    assert np.abs(f).max() > 1e-3
    assert relative_error(f, fn) < 1e-4
    assert relative_error(f, calculate_numerical_forces(filt, 1e-5, cell_rows)) < 1e-6
    stress = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(stress, stress.T, atol=1e-14)


def test_properties_and_per_atom_energies(potential, tmp_path):
    atoms = rattled(2)
    atoms.calc = MatmlCalculator(save(potential, tmp_path / "m.matml"))
    e = atoms.get_potential_energy()
    assert atoms.get_potential_energy(force_consistent=True) == e  # free_energy
    np.testing.assert_allclose(atoms.get_potential_energies().sum(), e, rtol=1e-12)
    assert atoms.get_stress().shape == (6,)
    cluster = Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]])
    cluster.calc = MatmlCalculator(potential)
    assert cluster.get_forces().shape == (3, 3)
    from ase.calculators.calculator import PropertyNotImplementedError

    with pytest.raises(PropertyNotImplementedError):
        cluster.get_stress()


def test_unknown_element_at_inference(potential):
    atoms = bulk("Cu", "fcc", a=3.6).repeat(2)
    atoms.symbols[3] = "Au"
    atoms.calc = MatmlCalculator(potential)
    with pytest.raises(
        InputError, match=r"atoms AuCu7: field numbers: element Au \(atom 3\)"
    ):
        atoms.get_potential_energy()


def test_nve_md_keeps_energy_and_compiles_rarely(potential):
    from matml.simulate import nve_drift

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    calc = MatmlCalculator(potential)
    md = nve_drift(atoms, calc, steps=200, timestep_fs=1.0, temperature_K=300.0)
    e = np.array(md["total_energy_ev_per_atom"])
    assert md["mean_temperature_K"] > 100
    assert np.abs(e - e[0]).max() < 2e-4  # eV/atom over 0.2 ps with a 1 fs step
    assert abs(md["drift_mev_per_atom_per_ps"]) < 0.5
    assert len(calc.shapes_seen) <= 2
    # the Verlet list (1 Å skin) was reused, and gives the results of a fresh list
    assert 1 <= calc.neighbors.builds <= 20
    moved = calc.atoms  # where the run ended (nve_drift moves a copy)
    assert np.abs(moved.positions - atoms.positions).max() > 0.05
    calc.calculate(moved, ["energy", "forces", "stress"])
    fresh = MatmlCalculator(potential, skin=0.0)
    fresh.calculate(moved, ["energy", "forces", "stress"])
    for key in ("energy", "forces", "stress"):
        np.testing.assert_allclose(
            calc.results[key], fresh.results[key], rtol=1e-10, atol=1e-12
        )  # edges summed in another order


def test_edge_buckets_are_coarse():
    sizes = {bucket(n) for n in range(3000, 3300)}
    assert len(sizes) <= 2 and all(s >= 3000 for s in sizes)
    assert bucket(10) == 64


def test_overlapping_atoms_at_inference(potential):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.positions[2] = atoms.positions[1] + [0.05, 0.0, 0.0]
    atoms.calc = MatmlCalculator(potential)
    with pytest.raises(
        InputError, match=r"field positions: atoms [12] and [12] are 0.05 Å"
    ):
        atoms.get_forces()


def test_check_state_names_the_changes_ase_names(potential):
    """The calculator's exact state check reports what ASE's ``compare_atoms`` reports,
    change by change (positions, cell, pbc, numbers, a new array, nothing)."""
    from ase.calculators.calculator import compare_atoms

    calc = MatmlCalculator(potential)
    base = rattled()
    assert calc.check_state(base) == compare_atoms(None, base)  # nothing computed yet
    calc.atoms = base.copy()

    def changed(edit):
        a = base.copy()
        edit(a)
        return a

    cases = [
        lambda a: None,
        lambda a: a.positions.__iadd__(1e-3),
        lambda a: a.set_cell(a.cell[:] * 1.01, scale_atoms=False),
        lambda a: a.set_pbc([True, True, False]),
        lambda a: a.numbers.__setitem__(0, 13),
        lambda a: a.set_initial_magnetic_moments(np.ones(len(a))),
        lambda a: a.set_momenta(np.ones((len(a), 3))),  # not a system change
        lambda a: a.pop(),
    ]
    seen = set()
    for edit in cases:
        a = changed(edit)
        got = calc.check_state(a)
        assert sorted(got) == sorted(compare_atoms(base, a)), got
        seen.update(got)
    assert seen == {"positions", "cell", "pbc", "numbers", "initial_magmoms"}
    # an array the new atoms lack (the old ones had it)
    calc.atoms = changed(cases[5])
    assert (
        calc.check_state(base) == compare_atoms(calc.atoms, base) == ["initial_magmoms"]
    )
