"""The physics battery on the pair network (with its EAM term): finite differences,
invariances, periodic images, padding, through the ASE calculator too."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.potential import Potential
from matml.testing import (
    assert_invariant,
    compute,
    finite_difference_forces,
    finite_difference_stress,
    relative_error,
)


@pytest.fixture(scope="module")
def potential():
    return Potential(
        "pair",
        ["Cu", "Ni"],
        cutoff=4.0,
        model_config={"hidden": [16, 16], "embedding": 4},
        rngs=3,
        e0=[-3.0, -4.5],
        scale=0.7,
        shift=0.1,
        dtype=jnp.float64,
    )


def periodic_alloy(seed=0) -> Atoms:
    a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))  # 8 atoms, 7.2x3.6x3.6
    a.symbols[[1, 4]] = "Ni"
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0, 0.1, a.positions.shape)
    a.set_cell(a.cell[:] @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), scale_atoms=True)
    return a


def cluster(seed=1) -> Atoms:
    rng = np.random.default_rng(seed)
    pos = bulk("Cu", "fcc", a=3.6, cubic=True).positions[:4]
    pos = np.concatenate([pos, pos[:2] + [1.8, 1.8, 1.8]]) + rng.normal(0, 0.1, (6, 3))
    return Atoms("Cu4Ni2", positions=pos)


@pytest.mark.parametrize("make", [periodic_alloy, cluster])
def test_forces_equal_finite_differences(potential, make):
    atoms = make()
    _, forces, _, _ = compute(potential, atoms)
    fd = finite_difference_forces(potential, atoms, h=1e-4)
    assert np.abs(forces).max() > 1e-3  # not trivially zero
    assert relative_error(forces, fd) < 1e-6


def test_stress_equals_finite_differences(potential):
    atoms = periodic_alloy()
    _, _, stress, _ = compute(potential, atoms)
    fd = finite_difference_stress(potential, atoms, h=1e-5)
    assert np.abs(stress).max() > 1e-4
    assert relative_error(stress, fd) < 1e-6
    np.testing.assert_allclose(stress, stress.T, atol=1e-14)


def test_non_periodic_has_zero_stress(potential):
    _, _, stress, _ = compute(potential, cluster())
    assert np.all(stress == 0)


@pytest.mark.parametrize("make", [periodic_alloy, cluster])
def test_invariance(potential, make):
    assert_invariant(potential, make(), tol=1e-10)


def test_periodic_images_primitive_vs_supercell(potential):
    # cutoff 4.0 Å is longer than half of every cell vector of the primitive fcc cell
    prim = bulk("Cu", "fcc", a=3.6)
    assert 4.0 > 0.5 * np.linalg.norm(prim.cell[:], axis=1).max()
    sup = prim.repeat((3, 3, 3))
    e1, f1, s1, _ = compute(potential, prim)
    e27, f27, s27, _ = compute(potential, sup)
    assert abs(e1 - e27 / 27) < 1e-10
    np.testing.assert_allclose(s1, s27, atol=1e-12)
    assert np.abs(f27).max() < 1e-10


def test_padded_equals_unpadded(potential):
    atoms = periodic_alloy(seed=5)
    e, f, s, ei = compute(potential, atoms)
    e2, f2, s2, ei2 = compute(potential, atoms, pad_nodes=16, pad_edges=128)
    assert abs(e - e2) < 1e-12
    np.testing.assert_allclose(f, f2, atol=1e-12)
    np.testing.assert_allclose(s, s2, atol=1e-12)
    np.testing.assert_allclose(ei, ei2, atol=1e-12)
    assert abs(ei.sum() - e) < 1e-10


def test_isolated_atoms_are_additive(potential):
    e, f, _, _ = compute(potential, Atoms("Ni", positions=[[0, 0, 0]]))
    # a lone atom has no neighbours: its energy is E0 + scale * F(0) + shift, the
    # same for every isolated Ni; two far-apart atoms add up
    e2, _, _, _ = compute(potential, Atoms("Ni2", positions=[[0, 0, 0], [0, 0, 50.0]]))
    assert abs(e2 - 2 * e) < 1e-12
    assert np.all(f == 0)


def test_batched_equals_single(potential):
    from flax import nnx

    from matml.data import atoms_to_graph
    from matml.potential import predict_fn

    structures = [periodic_alloy(0), cluster(1), periodic_alloy(2)]
    g = atoms_to_graph(structures, 4.0, ["Cu", "Ni"]).cast(potential.dtype)
    graphdef, state = nnx.split(potential)
    out = jax.device_get(predict_fn(graphdef, True, potential.dtype)(state, g))
    start = 0
    for k, atoms in enumerate(structures):
        e, f, s, _ = compute(potential, atoms)
        n = len(atoms)
        assert abs(float(out.energy[k]) - e) < 1e-10
        np.testing.assert_allclose(out.forces[start : start + n], f, atol=1e-10)
        np.testing.assert_allclose(out.stress[k], s, atol=1e-12)
        start += n
