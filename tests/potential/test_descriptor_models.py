"""The descriptor models (``descriptor`` network, ``linear``): the physics battery of
``matml.testing`` in float32 and float64, statistics, save/load, the closed-form linear
fit, and a short training on mlearn Si."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.data import Dataset
from matml.potential import Potential, fit_model_statistics, load, precision, save
from matml.testing import check_potential, compute

SMALL = {"max_order": 4, "max_degree": 3}  # few invariants: quick to compile
PAIRED = {**SMALL, "two_body": 4}  # and a two-body block beside them


def silicon(seed=0, reps=(1, 1, 1)) -> Atoms:
    a = bulk("Si", "diamond", a=5.43, cubic=True).repeat(reps)
    rng = np.random.default_rng(seed)
    a.positions += rng.normal(0, 0.1, a.positions.shape)
    a.set_cell(a.cell[:] @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), scale_atoms=True)
    return a


def si_cluster(seed=1) -> Atoms:
    rng = np.random.default_rng(seed)
    pos = bulk("Si", "diamond", a=5.43, cubic=True).positions[:6]
    return Atoms("Si6", positions=pos + rng.normal(0, 0.1, (6, 3)))


def _statistics(pot):
    ds = Dataset.from_atoms([silicon(k) for k in range(3)], pot.cutoff, pot.species)
    assert fit_model_statistics(pot, ds)
    return pot


@pytest.fixture(scope="module")
def network():
    """float32: what users run (the linear model below runs the battery in float64;
    each descriptor shape compiles for seconds, so not every test runs both)."""
    pot = Potential("descriptor", ["Si"], 4.0, {**PAIRED, "hidden": [16]},
                    e0=[-5.0], scale=0.5, dtype="float32", rngs=1)  # fmt: skip
    # the linear term and the MLP's last layer start at zero (training starts from
    # the closed-form linear fit): give both random values, so every part is checked
    rng = np.random.default_rng(2)
    m = pot.model
    m.weights.value = jax.numpy.asarray(rng.normal(size=m.weights.value.shape) * 0.05,
                                        "float32")  # fmt: skip
    last = m.networks[0].layers[-1].kernel
    last.value = jax.numpy.asarray(rng.normal(size=last.value.shape) * 0.3, "float32")
    return _statistics(pot)


def test_network_physics_battery(network):
    check_potential(network, silicon(4), si_cluster())


def test_linear_physics_battery():
    pot = _statistics(
        Potential("linear", ["Si"], 4.0, SMALL, e0=[-5.0], dtype="float64")
    )
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        pot.model.weights.value = jax.numpy.asarray(
            rng.normal(size=pot.model.weights.value.shape) * 0.05
        )
    check_potential(pot, silicon(5), si_cluster(2))


def test_feature_statistics_standardise(network):
    ds = Dataset.from_atoms([silicon(k) for k in range(3)], 4.0, ["Si"])
    from matml.data import GraphLoader
    from matml.data.graph import edge_vectors

    g = next(iter(GraphLoader(ds, 3))).to_jax(network.dtype)
    with precision(network.dtype):  # jitted: op by op the descriptor takes seconds
        feats = jax.jit(lambda g: network.model.features(g, edge_vectors(g)))
        x = np.asarray(feats(g))[np.asarray(g.node_mask)]
    varying = np.asarray(network.model.feature_scale[...]) != 1.0
    assert varying.sum() > 10
    np.testing.assert_allclose(x[:, varying].mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(x[:, varying].std(axis=0), 1.0, atol=1e-3)


def test_save_load_identical(network, tmp_path):
    again = load(save(network, tmp_path / "d.matml"))
    for atoms in (silicon(7), si_cluster(3)):
        e1, f1, s1, _ = compute(network, atoms)
        e2, f2, s2, _ = compute(again, atoms)
        assert e1 == e2
        np.testing.assert_array_equal(f1, f2)
        np.testing.assert_array_equal(s1, s2)


def test_linear_fit_recovers_a_linear_potential():
    """Data labelled by a linear potential with known weights: the closed-form fit
    (rows by the chain rule through the moments and the exact stencil) gives back the
    same energies, forces and stress."""
    from matml.train import fit_linear

    true = _statistics(Potential("linear", ["Ge", "Si"], 4.0, PAIRED, e0=[-4.0, -5.0],
                                 scale=0.5, shift=0.1, dtype="float64"))  # fmt: skip
    rng = np.random.default_rng(3)
    with precision("float64"):
        true.model.weights.value = jax.numpy.asarray(
            rng.normal(size=true.model.weights.value.shape) * 0.05
        )
    atoms = []
    for k in range(8):
        a = silicon(10 + k, reps=(2, 1, 1))  # 16 atoms: 440 rows for 168 weights
        a.symbols[rng.choice(len(a), 6, replace=False)] = "Ge"
        e, f, s, _ = compute(true, a)
        a.info["energy"], a.arrays["forces"] = e, f
        a.info["stress"] = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        atoms.append(a)
    del atoms[0].info["energy"]  # a structure without energy gives no energy row
    ds = Dataset.from_atoms(atoms, 4.0, ["Ge", "Si"])
    fit = Potential("linear", ["Ge", "Si"], 4.0, PAIRED, e0=[-4.0, -5.0], scale=0.5,
                    shift=0.1, dtype="float64")  # fmt: skip
    with precision("float64"):  # the same standardisation as the labelling model
        fit.model.feature_mean.value = true.model.feature_mean.value
        fit.model.feature_scale.value = true.model.feature_scale.value
    res = fit_linear(fit, ds[:6], ds[6:], energy_weight=1.0, forces_weight=1.0,
                     stress_weight=1.0, alphas=(1e-15, 1e-6))  # fmt: skip
    assert res.alpha == 1e-15 and res.valid_loss[1e-15] < 1e-8  # rounding only
    for a in atoms[6:]:
        e1, f1, s1, _ = compute(true, a)
        e2, f2, s2, _ = compute(fit, a)
        assert abs(e1 - e2) < 1e-4
        np.testing.assert_allclose(f2, f1, atol=1e-4)
        np.testing.assert_allclose(s2, s1, atol=1e-6)


def test_linear_fit_corrects_the_e0s():
    """Energies that are E0s alone (zero forces and stress) and a model whose E0s are
    off by 0.3 and -0.2 eV: the fit's per-species constants, not the (ridge-shrunk)
    weights, take up the difference; a species absent from the data keeps its E0."""
    from matml.train import fit_linear

    rng = np.random.default_rng(5)
    atoms = []
    for k in range(4):
        a = silicon(30 + k, reps=(2, 1, 1))
        a.symbols[rng.choice(len(a), 4 + k, replace=False)] = "Ge"
        n_ge = a.get_chemical_symbols().count("Ge")
        a.info["energy"] = -4.0 * n_ge - 5.0 * (len(a) - n_ge)
        a.arrays["forces"] = np.zeros((len(a), 3))
        atoms.append(a)
    ds = Dataset.from_atoms(atoms, 4.0, ["Ge", "Si"])
    pot = _statistics(Potential("linear", ["Ge", "Si"], 4.0, PAIRED, e0=[-3.7, -5.2],
                                dtype="float64"))  # fmt: skip
    res = fit_linear(pot, ds, energy_weight=1.0, forces_weight=1.0, alphas=(1e-6,))
    np.testing.assert_allclose(res.e0, [-4.0, -5.0], atol=1e-6)
    np.testing.assert_allclose(np.asarray(pot.e0.value), [-4.0, -5.0], atol=1e-6)
    assert np.abs(np.asarray(pot.model.weights.value)).max() < 1e-6
    # a species with no atoms in the data keeps its E0 (its column is all zeros)
    si = [silicon(40 + k, reps=(2, 1, 1)) for k in range(3)]
    for a in si:
        a.info["energy"], a.arrays["forces"] = -5.0 * len(a), np.zeros((len(a), 3))
    pot.e0.value = jax.numpy.asarray([-3.7, -5.2])
    res = fit_linear(pot, Dataset.from_atoms(si, 4.0, ["Ge", "Si"]), alphas=(1e-6,))
    np.testing.assert_allclose(res.e0, [-3.7, -5.0], atol=1e-6)
    # one composition throughout (4 Ge, 12 Si): proportional columns still solve, and
    # the E0s then give that composition's energy
    for a in si:
        a.symbols[:4] = "Ge"
        a.info["energy"] = -4.0 * 4 - 5.0 * 12
    pot.e0.value = jax.numpy.asarray([-3.7, -5.2])
    res = fit_linear(pot, Dataset.from_atoms(si, 4.0, ["Ge", "Si"]), alphas=(1e-6,))
    assert 4 * res.e0[0] + 12 * res.e0[1] == pytest.approx(-76.0, abs=1e-5)
    # E0s the user gave are kept
    pot.e0.value = jax.numpy.asarray([-3.7, -5.2])
    res = fit_linear(pot, Dataset.from_atoms(si, 4.0, ["Ge", "Si"]), alphas=(1e-6,),
                     fit_e0=False)  # fmt: skip
    np.testing.assert_allclose(res.e0, [-3.7, -5.2], atol=1e-12)


def test_linear_rows_by_dense_pairs_equal_rows_by_edges(monkeypatch):
    """The three ways of taking the chain rule (the invariants' full Jacobian summed
    over dense centre-atom pairs for small graphs or per edge for large ones, or their
    derivatives along each edge's moment tangents) give the same energy, force and
    stress rows."""
    from flax import nnx

    from matml.train import linear

    pot = _statistics(Potential("linear", ["Ge", "Si"], 4.0, PAIRED, dtype="float64"))
    a = silicon(5, reps=(2, 1, 1))
    a.symbols[[0, 3, 7, 12]] = "Ge"
    graph = next(iter(linear._batches(Dataset.from_atoms([a], 4.0, ["Ge", "Si"]))))
    graphdef, state = nnx.split(pot)
    out = []
    for limit, directional in ((10**6, False), (0, False), (0, True)):
        monkeypatch.setattr(linear, "DENSE_PAIRS_MAX_NODES", limit)
        monkeypatch.setattr(linear, "DIRECTIONAL", directional)
        linear._rows_fn.cache_clear()
        with precision("float64"):
            out.append(jax.device_get(linear._rows_fn(graphdef)(state, graph)))
    linear._rows_fn.cache_clear()
    for dense, edges, along in zip(*out, strict=True):
        assert np.abs(dense).max() > 0
        np.testing.assert_allclose(dense, edges, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dense, along, rtol=1e-9, atol=1e-11)


def test_linear_system_weighs_structures():
    """A structure of weight 2 adds to the normal equations what two copies of it
    add (the trainer's weighting: energy, force and stress rows alike)."""
    import copy

    from matml.data import Buckets
    from matml.train import linear

    pot = _statistics(Potential("linear", ["Si"], 4.0, PAIRED, dtype="float64"))
    atoms = []
    for k in range(2):
        a = silicon(20 + k)
        a.info["energy"], a.arrays["forces"] = -5.0 * len(a) + k, a.positions * 0.01
        a.info["stress"] = np.arange(6) * 0.01
        atoms.append(a)
    ds = Dataset.from_atoms(atoms, 4.0, ["Si"])
    twice = Dataset.from_atoms(atoms + [atoms[0]], 4.0, ["Si"])
    heavy = copy.deepcopy(ds)
    heavy.structures[0].weight = 2.0
    buckets = Buckets.for_dataset(twice, 1, 1)
    with precision("float64"):
        a = linear._system(pot, heavy, (10.0, 1.0, 3.0), buckets)
        b = linear._system(pot, twice, (10.0, 1.0, 3.0), buckets)
    assert np.abs(a.gram).max() > 0
    np.testing.assert_allclose(a.gram, b.gram, rtol=1e-12)
    np.testing.assert_allclose(a.rhs, b.rhs, rtol=1e-12)
    assert a.bwb == pytest.approx(b.bwb, rel=1e-12)


def test_network_asinh_inputs_and_fixed_linear_term(tmp_path):
    """``inputs: asinh`` feeds the MLP asinh of the standardised invariants (the linear
    term keeps them as they are); ``train_linear: false`` keeps the linear weights out
    of the gradient (they stay at their closed-form fit) and the MLP's in it. Both
    survive save/load; an unknown ``inputs`` is a one-line error naming the key."""
    from flax import nnx

    from matml.data import GraphLoader
    from matml.data.graph import edge_vectors
    from matml.errors import ConfigError

    opts = {**SMALL, "hidden": [16], "inputs": "asinh", "train_linear": False}
    pot = _statistics(Potential("descriptor", ["Si"], 4.0, opts, dtype="float32"))
    m = pot.model
    rng = np.random.default_rng(4)
    m.weights.value = jax.numpy.asarray(
        rng.normal(size=m.weights.value.shape) * 0.05, "float32"
    )
    last = m.networks[0].layers[-1].kernel
    last.value = jax.numpy.asarray(rng.normal(size=last.value.shape) * 0.3, "float32")
    ds = Dataset.from_atoms([silicon(k) for k in range(3)], 4.0, ["Si"])
    g = next(iter(GraphLoader(ds, 3))).to_jax(pot.dtype)
    with precision(pot.dtype):
        x = jax.jit(lambda g: m.features(g, edge_vectors(g)))(g)  # op by op: slow
        assert float(jax.numpy.abs(x).max()) > 1.5  # asinh differs from x there
        got = np.asarray(m.from_features(g, x))
        want = np.asarray(
            m.networks[0](jax.numpy.arcsinh(x))[:, 0] + x @ m.weights[...][0]
        )
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

        graphdef, params, rest = nnx.split(m, nnx.Param, ...)

        def total(p):
            return jax.numpy.sum(nnx.merge(graphdef, p, rest).from_features(g, x))

        grads = jax.grad(total)(params)
    assert np.abs(np.asarray(grads["weights"].value)).max() == 0.0
    assert (
        np.abs(np.asarray(grads["networks"][0]["layers"][0]["kernel"].value)).max() > 0
    )

    again = load(save(pot, tmp_path / "a.matml"))
    assert again.model.inputs == "asinh" and again.model.train_linear is False
    e1, f1, _, _ = compute(pot, silicon(8))
    e2, f2, _, _ = compute(again, silicon(8))
    assert e1 == e2
    np.testing.assert_array_equal(f1, f2)
    with pytest.raises(ConfigError, match="inputs"):
        Potential("descriptor", ["Si"], 4.0, {**SMALL, "inputs": "log"})
