"""The physics battery of ``matml.testing`` on the pair network (with its EAM term), in
float32 (what users run) and float64 (sharp tolerances); and checks that the battery's
own assertions fail when they should."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.potential import Potential, precision
from matml.testing import (
    assert_batched_equals_single,
    assert_equivariant,
    assert_forces_match_finite_differences,
    assert_invariant,
    assert_isolated_atoms_additive,
    assert_padding_invariant,
    assert_periodic_images,
    assert_smooth_cutoff,
    assert_stress_matches_finite_differences,
    compute,
)

DTYPES = ["float32", "float64"]


@pytest.fixture(scope="module", params=DTYPES)
def potential(request):
    return Potential(
        "pair",
        ["Cu", "Ni"],
        cutoff=4.0,
        model_config={"hidden": [16, 16], "embedding": 4},
        rngs=3,
        e0=[-3.0, -4.5],
        scale=0.7,
        shift=0.1,
        dtype=request.param,
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


def test_dtype_is_the_potentials(potential):
    assert str(potential.dtype) == str(potential.model.phi.layers[0].kernel[...].dtype)
    _, f, _, _ = compute(potential, cluster())
    assert np.isfinite(f).all()


@pytest.mark.parametrize("make", [periodic_alloy, cluster])
def test_forces_equal_finite_differences(potential, make):
    assert_forces_match_finite_differences(potential, make())


def test_stress_equals_finite_differences(potential):
    assert_stress_matches_finite_differences(potential, periodic_alloy())


def test_non_periodic_has_zero_stress(potential):
    _, _, stress, _ = compute(potential, cluster())
    assert np.all(stress == 0)


@pytest.mark.parametrize("make", [periodic_alloy, cluster])
def test_invariance(potential, make):
    assert_invariant(potential, make())


def test_periodic_images_primitive_vs_supercell(potential):
    # cutoff 4.0 Å is longer than half of every cell vector of the primitive fcc cell
    prim = bulk("Cu", "fcc", a=3.6)
    assert 4.0 > 0.5 * np.linalg.norm(prim.cell[:], axis=1).max()
    assert_periodic_images(potential, prim, (3, 3, 3))
    rattled = periodic_alloy(4)
    assert_periodic_images(potential, rattled, (1, 2, 2))


def test_padded_equals_unpadded(potential):
    assert_padding_invariant(potential, periodic_alloy(seed=5))


def test_isolated_atoms_are_additive(potential):
    assert_isolated_atoms_additive(potential, "Ni")


def test_batched_equals_single(potential):
    assert_batched_equals_single(
        potential, [periodic_alloy(0), cluster(1), periodic_alloy(2)]
    )


def test_smooth_at_the_cutoff(potential):
    assert_smooth_cutoff(potential, "CuNi")


def test_float32_agrees_with_float64(potential):
    """The same weights in float32 and float64 predict the same to float32 rounding."""
    import jax
    from flax import nnx

    other = "float64" if str(potential.dtype) == "float32" else "float32"
    twin = Potential("pair", ["Cu", "Ni"], 4.0, {"hidden": [16, 16], "embedding": 4},
                     dtype=other)  # fmt: skip
    state = jax.tree_util.tree_map(lambda a: np.asarray(a), nnx.state(potential))
    with precision(other):
        nnx.update(twin, jax.tree_util.tree_map(lambda a: jnp.asarray(a, other), state))
    atoms = periodic_alloy(3)
    e1, f1, s1, _ = compute(potential, atoms)
    e2, f2, s2, _ = compute(twin, atoms)
    assert abs(e1 - e2) < 1e-5 * abs(e2)
    np.testing.assert_allclose(f1, f2, atol=1e-4)
    np.testing.assert_allclose(s1, s2, atol=1e-5)


# --- the battery's checks must be able to fail ---------------------------------------


def test_smooth_cutoff_check_catches_a_jump():
    unshifted = Potential("lj", ["Ar"], 6.0, {"epsilon": 0.01, "sigma": 3.4, "shift": False},
                          dtype="float64")  # fmt: skip
    with pytest.raises(AssertionError, match="jumps at the cutoff"):
        assert_smooth_cutoff(unshifted)


def test_assert_equivariant():
    rng = np.random.default_rng(0)
    x = e3nn.IrrepsArray("1o", jnp.asarray(rng.normal(size=(5, 3)), jnp.float32))

    def good(v):  # vectors to l = 0, 1, 2 (with the parity of a polar vector)
        return e3nn.spherical_harmonics("0e + 1o + 2e", v, normalize=False)

    def bad(v):  # claims 1o but is not a vector: squares of components
        return e3nn.IrrepsArray("1o", v.array**2)

    assert_equivariant(good, x)
    with pytest.raises(AssertionError, match="rotation"):
        assert_equivariant(bad, x)

    def wrong_parity(v):  # a pseudo-vector labelled as a vector fails the inversion
        return e3nn.IrrepsArray("1o", jnp.cross(v.array, v.array[::-1]))

    with pytest.raises(AssertionError, match="inversion"):
        assert_equivariant(wrong_parity, x)
