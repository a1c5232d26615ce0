"""Autodiff gradients against finite differences, the cutoff's smoothness, padding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml.descriptors import MomentInvariants

CUTOFF = 3.0


@pytest.fixture(scope="module")
def desc():
    return MomentInvariants(cutoff=CUTOFF, max_order=3, max_degree=4)


@pytest.fixture(scope="module")
def setup(desc):
    si = bulk("Si", "diamond", a=5.43)
    si.rattle(0.1, seed=4)
    graph = desc.graph(si).to_jax(jnp.float64)
    w = jax.random.normal(jax.random.key(1), (desc.n_features,), jnp.float64)

    def scalar(pos, strain):
        eps = 0.5 * (strain + strain.T)
        deform = jnp.eye(3) + eps
        return jnp.sum(desc.from_graph(graph, pos @ deform, graph.cell @ deform) @ w)

    return graph, jax.jit(scalar), jax.jit(jax.grad(scalar, argnums=(0, 1)))


def test_gradients_equal_finite_differences(setup):
    graph, f, grad = setup
    pos = graph.positions
    zero = jnp.zeros((3, 3))
    g_pos, g_strain = grad(pos, zero)
    h = 1e-5
    for atom, axis in [(0, 0), (0, 2), (1, 1)]:
        d = jnp.zeros_like(pos).at[atom, axis].set(h)
        fd = (f(pos + d, zero) - f(pos - d, zero)) / (2 * h)
        np.testing.assert_allclose(g_pos[atom, axis], fd, rtol=1e-6)
    for i, j in [(0, 0), (1, 2), (2, 2)]:
        e = zero.at[i, j].set(h).at[j, i].set(h)
        fd = (f(pos, e) - f(pos, -e)) / (2 * h)
        sym = g_strain[i, j] + g_strain[j, i] if i != j else g_strain[i, i]
        np.testing.assert_allclose(sym, fd, rtol=1e-6)
    assert np.all(g_pos[2:] == 0.0)  # padding atoms


def test_padded_graph_gives_the_same_features(desc):
    si = bulk("Si", "diamond", a=5.43)
    si.rattle(0.05, seed=1)
    tight = desc(si)
    g = desc.graph(si, n_node=24, n_edge=512, n_graph=4)
    np.testing.assert_allclose(desc(g, dtype=jnp.float64), tight, atol=1e-12)


def _pair_features(desc, r):
    atoms = Atoms("Si2", positions=[[0.0, 0.0, 0.0], [r, 0.3 * r, -0.2 * r]])
    return desc(atoms)[0]


def test_descriptor_and_gradient_are_continuous_at_the_cutoff(desc):
    # the neighbour sits at distance s * |(1, 0.3, -0.2)|; find s at the cutoff
    s_c = CUTOFF / np.linalg.norm([1.0, 0.3, -0.2])
    outside = _pair_features(desc, s_c * 1.001)
    alone = desc(Atoms("Si", positions=[[0.0, 0.0, 0.0]]))[0]
    np.testing.assert_array_equal(outside, alone)
    gaps = [
        np.abs(_pair_features(desc, s_c * (1 - d)) - alone).max() for d in (1e-2, 1e-3)
    ]
    # C1 cutoff: the jump closes like d^2
    assert gaps[1] < 2e-2 * gaps[0]
    # and the gradient with respect to the neighbour's position goes to zero
    grad = jax.jit(jax.grad(lambda pos, graph: jnp.sum(desc.from_graph(graph, pos)[0])))

    def gradient(r):
        atoms = Atoms("Si2", positions=[[0, 0, 0], [r, 0, 0]])
        graph = desc.graph(atoms).to_jax(jnp.float64)
        return np.abs(np.asarray(grad(graph.positions, graph))).max()

    assert gradient(CUTOFF * 0.999) < 1e-2 * gradient(CUTOFF * 0.8)


def test_vmap_over_environments(desc):
    rng = np.random.default_rng(0)
    vec = jnp.asarray(rng.uniform(-1.5, 1.5, (5, 8, 3)))
    centres = jnp.zeros(8, jnp.int32)
    species = jnp.zeros(8, jnp.int32)
    mask = jnp.ones(8, bool)
    one = jax.jit(lambda v: desc.from_edges(v, centres, species, mask, 1))
    batched = jax.jit(jax.vmap(one))(vec)
    single = one(vec[2])
    np.testing.assert_allclose(batched[2], single, atol=1e-12)


def test_second_derivatives_equal_finite_differences_of_the_gradient(setup, desc):
    # the coupled pairs, outer sums and blocks carry hand-written reverse rules whose
    # own reverse rules are hand-written too: the gradient must differentiate again
    # (training on forces differentiates the forces), to finite-difference accuracy
    graph, f, grad = setup
    pos, zero = graph.positions, jnp.zeros((3, 3))
    v = jnp.asarray(np.random.default_rng(3).normal(size=pos.shape)).at[2:].set(0.0)
    h = 1e-5
    fd = (grad(pos + h * v, zero)[0] - grad(pos - h * v, zero)[0]) / (2 * h)
    hvp = jax.grad(lambda p: jnp.sum(grad(p, zero)[0] * v))(pos)  # reverse over reverse
    np.testing.assert_allclose(hvp, fd, rtol=1e-5, atol=1e-8 * np.abs(fd).max())
    # the moments keep a tangent rule: forward mode (the linear fit's Jacobians) agrees
    vec = graph.positions[graph.senders] - graph.positions[graph.receivers]
    moments = jax.jit(
        lambda x: desc.moments_from_edges(
            x,
            graph.receivers,
            graph.species[graph.senders],
            graph.edge_mask,
            graph.positions.shape[0],
        )
    )
    t = jnp.asarray(np.random.default_rng(4).normal(size=vec.shape))
    fwd = jax.jvp(moments, (vec,), (t,))[1]
    m, pull = jax.vjp(moments, vec)
    w = jnp.asarray(np.random.default_rng(5).normal(size=m.shape))
    np.testing.assert_allclose(jnp.sum(fwd * w), jnp.sum(pull(w)[0] * t), rtol=1e-10)
