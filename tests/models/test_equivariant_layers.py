"""The equivariant layers of ``matml.nn.equivariant`` against e3nn-jax's own tensor
products, and each layer's equivariance under rotations and inversion (float64)."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from matml.nn.equivariant import (
    Convolution,
    Gate,
    IrrepsLinear,
    SymmetricContraction,
    blocks_from_irreps_array,
    blocks_to_irreps_array,
    edge_harmonics,
)
from matml.testing import assert_equivariant

IRREPS = e3nn.Irreps("3x0e + 3x1o + 2x2e")


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _graph(seed=0, n=5, e=12):
    rng = np.random.default_rng(seed)
    receivers = np.sort(rng.integers(0, n, e)).astype(np.int32)
    senders = rng.integers(0, n, e).astype(np.int32)
    vectors = rng.normal(size=(e, 3))
    return rng, senders, receivers, vectors


def test_convolution_matches_e3nn_tensor_product():
    """Each path's messages equal e3nn-jax's tensor product of the sender's features
    with the edge harmonics (component normalisation), weighted and summed on the
    receivers: the coupling and its normalisation are e3nn-jax's, path by path."""
    rng, senders, receivers, vectors = _graph()
    n, max_ell = 5, 3
    conv = Convolution(IRREPS, max_ell, "0e + 1o + 1e + 2e + 2o + 3o", n_basis=4,
                       radial_hidden=[8], rngs=nnx.Rngs(0), dtype=jnp.float64)  # fmt: skip
    x = e3nn.normal(IRREPS, jax.random.PRNGKey(1), (n,), dtype=jnp.float64)
    n_w = sum(IRREPS[i].mul for i, _, _ in conv.paths)
    w = jnp.asarray(rng.normal(size=(len(senders), n_w)))
    ys = edge_harmonics(jnp.asarray(vectors), jnp.ones(len(senders), bool), max_ell)
    got = conv.messages(blocks_from_irreps_array(x), ys, w, senders, receivers, 2.5)

    sh = e3nn.spherical_harmonics(
        e3nn.Irreps.spherical_harmonics(max_ell),
        jnp.asarray(vectors),
        True,
        "component",
    )
    want = {}
    for k in range(len(IRREPS)):
        xk = e3nn.IrrepsArray(e3nn.Irreps([IRREPS[k]]), x.chunks[k].reshape(n, -1))
        for l2 in range(max_ell + 1):
            y = sh.filter(keep=[e3nn.Irrep(l2, (-1) ** l2)])
            tp = e3nn.tensor_product(xk[senders], y, irrep_normalization="component",
                                     regroup_output=False)  # fmt: skip
            for (_, ir3), chunk in zip(tp.irreps, tp.chunks, strict=True):
                want[(k, l2, str(ir3))] = chunk  # [E, mul, d3]
    assert len(want) >= len(conv.paths)
    for p, (k, l2, ir3) in enumerate(conv.paths):
        mul = IRREPS[k].mul
        start = sum(IRREPS[i].mul for i, _, _ in conv.paths[:p])
        ref = want[(k, l2, ir3)] * w[:, start : start + mul, None]
        ref = jnp.swapaxes(ref, 1, 2)  # blocks are channels last
        ref = jax.ops.segment_sum(ref, receivers, n) / 2.5
        np.testing.assert_allclose(got[p], ref, atol=1e-12, err_msg=str((k, l2, ir3)))


def test_convolution_is_equivariant():
    _, senders, receivers, vectors = _graph(1)
    conv = Convolution(IRREPS, 2, "0e + 1o + 2e", n_basis=4, radial_hidden=[8],
                       rngs=nnx.Rngs(0), dtype=jnp.float64)  # fmt: skip
    mask = jnp.ones(len(senders), bool)

    def fn(x, v):
        radial = jnp.linalg.norm(v.array, axis=1, keepdims=True) * jnp.ones((1, 4))
        ys = edge_harmonics(v.array, mask, 2)
        out = conv(blocks_from_irreps_array(x), ys, radial, senders, receivers)
        return blocks_to_irreps_array(conv.irreps_out, out)

    x = e3nn.normal(IRREPS, jax.random.PRNGKey(2), (5,), dtype=jnp.float64)
    assert_equivariant(fn, x, e3nn.IrrepsArray("1o", jnp.asarray(vectors)))


@pytest.mark.parametrize("correlation", [1, 3])
def test_symmetric_contraction_is_equivariant(correlation):
    irreps_in = e3nn.Irreps("0e + 1o + 2e")
    sc = SymmetricContraction(irreps_in, "0e + 1o", channels=3, correlation=correlation,
                              n_species=2, rngs=nnx.Rngs(0), dtype=jnp.float64)  # fmt: skip
    species = jnp.asarray([0, 1, 1, 0])
    channels = e3nn.Irreps([(3, ir) for _, ir in irreps_in])
    out_irreps = e3nn.Irreps("3x0e + 3x1o")

    def fn(x):
        return blocks_to_irreps_array(
            out_irreps, sc(blocks_from_irreps_array(x), species)
        )

    x = e3nn.normal(channels, jax.random.PRNGKey(3), (4,), dtype=jnp.float64)
    assert_equivariant(fn, x)
    # order nu is a homogeneous polynomial of degree nu: B(2A) - 2B(A) vanishes only
    # for correlation 1
    a = blocks_from_irreps_array(x)
    b1 = sc(a, species)
    b2 = sc(tuple(2 * t for t in a), species)
    gap = max(float(jnp.max(jnp.abs(u - 2 * v))) for u, v in zip(b2, b1, strict=True))
    assert (gap < 1e-12) == (correlation == 1)


def test_symmetric_contraction_species_weights_differ():
    """Two atoms with the same features but different species get different outputs."""
    irreps_in = e3nn.Irreps("0e + 1o")
    sc = SymmetricContraction(irreps_in, "0e", channels=2, correlation=2, n_species=2,
                              rngs=nnx.Rngs(0), dtype=jnp.float64)  # fmt: skip
    x = e3nn.normal(e3nn.Irreps("2x0e + 2x1o"), jax.random.PRNGKey(0), (1,),
                    dtype=jnp.float64)  # fmt: skip
    a = tuple(jnp.concatenate([t, t]) for t in blocks_from_irreps_array(x))
    (out,) = sc(a, jnp.asarray([0, 1]))
    assert float(jnp.max(jnp.abs(out[0] - out[1]))) > 1e-3


def test_linear_and_gate_are_equivariant():
    gate = Gate("4x0e + 2x1o + 2x2e")
    lin = IrrepsLinear(IRREPS, gate.input_irreps(), n_species=2, per_species=True,
                       bias=True, rngs=nnx.Rngs(0), dtype=jnp.float64)  # fmt: skip
    species = jnp.asarray([0, 1, 0, 1, 1])

    def fn(x):
        out = gate(lin(blocks_from_irreps_array(x), species))
        return blocks_to_irreps_array(gate.irreps_out, out)

    x = e3nn.normal(IRREPS, jax.random.PRNGKey(4), (5,), dtype=jnp.float64)
    assert_equivariant(fn, x)


def test_linear_rejects_an_irrep_no_input_has():
    with pytest.raises(ValueError, match="1e is in none of the inputs"):
        IrrepsLinear("2x0e + 2x1o", "2x1e", rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    ("n_species", "correlation"), [(1, 3), (2, 3), (2, 2), (2, 4), (3, 3)]
)
def test_symmetric_contraction_equals_its_definition(n_species, correlation):
    """The layer against its formula evaluated term by term, node by node and channel by
    channel: ``B_{i,c,LM} = sum_nu sum_k W^{nu,L}_{s_i,k,c} sum_{d_1..d_nu}
    U^{nu,L}_{d_1..d_nu,k,M} A_{i,d_1,c} ... A_{i,d_nu,c}``, with ``U`` straight from
    e3nn-jax's ``reduced_symmetric_tensor_product_basis`` (outer products in numpy).
    Correlation 2 is the layer's paired first step alone, 4 that step and two more;
    three species take the unpaired path."""
    irreps_in = e3nn.Irreps("0e + 1o + 2e")
    irreps_out = e3nn.Irreps("0e + 1o + 2e")
    channels, n = 2, 3
    sc = SymmetricContraction(irreps_in, irreps_out, channels=channels,
                              correlation=correlation, n_species=n_species,
                              rngs=nnx.Rngs(5), dtype=jnp.float64)  # fmt: skip
    rng = np.random.default_rng(11)
    species = rng.integers(0, n_species, n)
    a = rng.normal(size=(n, irreps_in.dim, channels))  # [N, D, C]
    blocks, start = [], 0
    for _, ir in irreps_in:
        blocks.append(jnp.asarray(a[:, start : start + ir.dim]))
        start += ir.dim
    got = sc(tuple(blocks), jnp.asarray(species))

    for out_index, (_, ir) in enumerate(irreps_out):
        want = np.zeros((n, ir.dim, channels))
        for nu in range(1, correlation + 1):
            u = e3nn.reduced_symmetric_tensor_product_basis(irreps_in, nu, keep_ir=[ir])
            u = np.asarray(u.array).reshape(*(irreps_in.dim,) * nu, -1, ir.dim)
            w = np.asarray(sc.weights[out_index][nu - 1][...])  # [S, K, C]
            assert u.shape[-2] == w.shape[1] > 0
            for i in range(n):
                for c in range(channels):
                    outer = a[i, :, c]
                    for _ in range(nu - 1):
                        outer = np.multiply.outer(outer, a[i, :, c])
                    projected = np.tensordot(outer, u, axes=nu)  # [K, M]
                    want[i, :, c] += w[species[i], :, c] @ projected
        assert np.abs(want).max() > 1e-2
        np.testing.assert_allclose(got[out_index], want, rtol=1e-10, atol=1e-12)
