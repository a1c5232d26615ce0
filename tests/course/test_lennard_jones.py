"""The Lennard-Jones case of the course: analytic LJ against ASE, the LJ13 relaxation,
and a pair network that reproduces LJ (issue 2, item 7).

Reduced units throughout (energy epsilon, length sigma) except where ASE's argon-like
parameters are used to test the registered "lj" model in eV and Å.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones

from matml.course import (
    LJ13_MINIMUM,
    fit_pair_network,
    icosahedron13,
    learned_pair_curve,
    lj_energy,
    lj_errors,
    lj_forces,
    lj_pair_energy,
    lj_pair_force,
    pair_distances,
    rattled_structures,
    relax,
)
from matml.potential import Potential
from matml.testing import compute


@pytest.fixture(autouse=True, scope="module")
def _x64():
    """The course checks LJ to 1e-8: float64 throughout (thread-local)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def lj13():
    """The relaxed LJ13 cluster (from a rattled icosahedron)."""
    start = icosahedron13(1.0) + np.random.default_rng(0).normal(0, 0.05, (13, 3))
    return relax(start)


@pytest.fixture(scope="module")
def split(lj13):
    """Rattled copies of LJ13 at four amplitudes, labelled with exact LJ: 36 to train
    on, 12 to test on."""
    data = rattled_structures(lj13.positions, per_amplitude=12, seed=1)
    perm = np.random.default_rng(2).permutation(len(data))
    return [data[i] for i in perm[:36]], [data[i] for i in perm[36:]]


@pytest.fixture(scope="module")
def trained(split):
    """A small pair network (32x32 SiLU) trained briefly (60 epochs of 9 batches of 4)
    on energies + forces, in float32."""
    train, _ = split
    pot, _ = fit_pair_network(
        train,
        forces=True,
        hidden=(32, 32),
        epochs=60,
        batch_size=4,
        lr=1e-2,
        dtype=jnp.float32,
    )
    return pot


# --- analytic LJ --------------------------------------------------------------------


def test_pair_force_is_minus_derivative_of_pair_energy():
    r = np.linspace(0.9, 3.0, 7)
    h = 1e-6
    fd = -(lj_pair_energy(r + h) - lj_pair_energy(r - h)) / (2 * h)
    np.testing.assert_allclose(lj_pair_force(r), fd, rtol=1e-7, atol=1e-8)
    assert float(lj_pair_energy(2 ** (1 / 6))) == pytest.approx(-1.0, abs=1e-12)


@pytest.mark.parametrize("rc", [None, 2.0])
def test_cluster_energy_and_autodiff_forces_match_ase(rc):
    """All pairs (ASE with a huge cutoff), and a cutoff with ASE's energy shift."""
    pos = icosahedron13(1.1) + np.random.default_rng(3).normal(0, 0.08, (13, 3))
    from ase import Atoms

    atoms = Atoms("Ar13", pos)
    atoms.calc = LennardJones(sigma=1.0, epsilon=1.0, rc=1e3 if rc is None else rc)
    kw = {} if rc is None else {"cutoff": rc, "shift": True}
    e = float(lj_energy(jnp.asarray(pos), **kw))
    f = np.asarray(lj_forces(jnp.asarray(pos), **kw))
    assert e == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(f, atoms.get_forces(), atol=1e-9)
    # epsilon and sigma scale as they should
    e2 = float(lj_energy(jnp.asarray(pos) * 3.4, epsilon=0.0104, sigma=3.4, **(
        {} if rc is None else {"cutoff": rc * 3.4, "shift": True}
    )))  # fmt: skip
    assert e2 == pytest.approx(0.0104 * e, rel=1e-12)


def test_registered_lj_model_matches_ase_on_a_periodic_crystal():
    """The "lj" model through matml.potential: energy, forces and stress of rattled fcc
    argon (eV, Å) equal ASE's LennardJones (same cutoff and energy shift)."""
    eps, sig, rc = 0.0104, 3.40, 8.5
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=4)
    pot = Potential("lj", ["Ar"], rc, {"epsilon": eps, "sigma": sig}, dtype=jnp.float64)
    e, f, s, _ = compute(pot, atoms)
    atoms.calc = LennardJones(epsilon=eps, sigma=sig, rc=rc)
    assert e == pytest.approx(atoms.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(f, atoms.get_forces(), atol=1e-10)
    from ase.stress import voigt_6_to_full_3x3_stress

    np.testing.assert_allclose(
        s, voigt_6_to_full_3x3_stress(atoms.get_stress()), atol=1e-10
    )


# --- relaxation and data -------------------------------------------------------------


def test_relaxation_reaches_the_lj13_minimum(lj13):
    assert lj13.converged
    assert lj13.max_force < 1e-6
    assert lj13.energy == pytest.approx(LJ13_MINIMUM, abs=1e-6)
    # an icosahedron: 12 atoms at one distance from the centre atom
    c = lj13.positions - lj13.positions.mean(axis=0)
    radii = np.sort(np.linalg.norm(c, axis=1))
    assert radii[0] < 1e-4 and np.ptp(radii[1:]) < 1e-4


def test_rattled_structures_are_labelled_with_exact_lj(split):
    train, test = split
    data = train + test
    assert len(data) == 48
    amps = sorted({a.info["amplitude"] for a in data})
    assert amps == [0.01, 0.03, 0.06, 0.1]
    assert pair_distances(data).min() >= 0.9
    a = data[7]
    assert a.info["energy"] == pytest.approx(float(lj_energy(a.positions)), abs=1e-10)
    np.testing.assert_allclose(a.arrays["forces"], lj_forces(a.positions), atol=1e-10)


# --- the pair network ----------------------------------------------------------------


def test_pair_network_reproduces_lj(trained, split):
    """Test energy RMSE < 1% of the test energy range; force RMSE < 5% of the RMS
    reference force component.

    Why 5%: LJ is itself a pair potential and every pair distance in the data (at most
    ~2.7 sigma) lies inside the network's 3 sigma cutoff, so the network can represent
    the reference exactly; what is left is the error of a small network trained for 60
    short epochs. A force RMSE of 5% of the RMS force means the fit explains > 99.7% of
    the force variance (R^2 > 0.9975). It is far from what a model that did not learn
    the forces gives: the same network trained on energies only has a force RMSE of
    35% of the RMS force in examples/lennard_jones.py (49% with this test's short
    training). This run gave an energy RMSE of 0.3% of the range and a force RMSE of
    1.4% of the RMS force, so both bounds have margin without being loose.
    """
    _, test = split
    err = lj_errors(trained, test)
    assert err.energy_range > 10.0  # a real spread of energies (epsilon)
    assert err.energy_rmse < 0.01 * err.energy_range
    assert err.forces_rmse < 0.05 * err.forces_rms


def test_learned_pair_energy_and_force_follow_lj(trained, split):
    """At the pair distances of the training set, the learned pair force -dg/dr has an
    RMS error below 5% of the RMS analytic LJ pair force there, and the learned pair
    energy g(r) an RMS error below 0.15 epsilon (15% of the well depth).

    No shift is applied: the potential is a pure pair potential (E0 = shift = 0, see
    matml.course.pair_fit), so g is directly comparable with LJ. The energy bound is
    the looser one because a slowly varying offset of g changes every structure's
    energy by nearly the same amount and the forces hardly at all, so the data pin it
    down less well than the force. This run gave 0.065 epsilon and 1.9%; the same
    network trained on energies only gives 0.18 epsilon and 58%.
    """
    train, _ = split
    r = pair_distances(train)
    energy, force = learned_pair_curve(trained, r)
    exact_e, exact_f = np.asarray(lj_pair_energy(r)), np.asarray(lj_pair_force(r))
    rms = lambda x: float(np.sqrt(np.mean(x**2)))  # noqa: E731
    assert rms(force - exact_f) < 0.05 * rms(exact_f)
    assert rms(energy - exact_e) < 0.15


def test_per_atom_constant_folds_into_the_pair_energy(trained, split):
    """On 13-atom clusters with every pair inside the cutoff, a potential with a
    per-atom constant c = E0 + shift predicts exactly the sum over the 78 pairs of
    ``learned_pair_curve(..., n_atoms=13)``, which adds 2c/12 to each pair: the
    degeneracy that matml.course.pair_fit avoids by setting E0 = shift = 0."""
    from flax import nnx

    _, test = split
    pot = nnx.clone(trained)
    pot.e0.value = jnp.asarray([0.2], jnp.float32)
    pot.shift.value = jnp.asarray(0.5, jnp.float32)
    r = pair_distances(test)
    assert r.max() < pot.cutoff and len(r) == 78 * len(test)
    pred = lj_errors(pot, test).energy_pred
    g_eff, _ = learned_pair_curve(pot, r, n_atoms=13)
    np.testing.assert_allclose(g_eff.reshape(len(test), 78).sum(1), pred, atol=2e-4)
    g, _ = learned_pair_curve(pot, r)
    np.testing.assert_allclose(
        g.reshape(len(test), 78).sum(1), pred - 13 * 0.7, atol=2e-4
    )
