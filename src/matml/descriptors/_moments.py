"""Moments of every atomic environment at once, from edge vectors (pure jnp).

One call turns the edges of a whole batch into moments [n_nodes, channels, K] with a
``segment_sum`` over centre atoms (for Zernike moments, of the edges' monomials x^p y^q
z^r, mapped to Zernike moments by one constant matrix per atom afterwards): no Python loop over atoms, static shapes, jit-, vmap-
and grad-friendly. Padded edges (``edge_mask`` false) contribute exactly zero and have
finite gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from matml.descriptors._cutoff import cutoff_function, masked_norm
from matml.descriptors._geometric import edge_monomials, summed_monomials
from matml.descriptors._radial import n_per_l, radial_values
from matml.descriptors._zernike import (
    geometric_to_zernike,
    sh_polynomial,
    zernike_functions,
)

__all__ = ["edge_basis", "environment_moments"]


def edge_basis(
    vectors: jnp.ndarray,
    edge_mask: jnp.ndarray,
    *,
    cutoff: float,
    max_order: int,
    radial: str = "zernike",
    density: str = "delta",
    sigma: float = 0.0,
) -> jnp.ndarray:
    """Moment contribution of each edge's unit-mass density, [E, K] (flat block order).

    Zernike + delta: Z_nlm(r / r_c) evaluated directly (polynomial). Zernike + Gaussian:
    analytic geometric moments of the Gaussian mapped by the constant matrix chi. Other
    radial bases: g_lk(r / r_c) Y_lm(r_hat) (delta only).
    """
    x = jnp.where(edge_mask[:, None], vectors / cutoff, 0.0)
    if radial == "zernike":
        if density == "gaussian":
            chi = jnp.asarray(geometric_to_zernike(max_order), dtype=vectors.dtype)
            return edge_monomials(x, max_order, sigma / cutoff) @ chi.T
        return zernike_functions(x, max_order)
    r = masked_norm(x, edge_mask)
    unit = x / jnp.where(r > 0, r, 1.0)[:, None]
    sh = sh_polynomial(unit, max_order)  # unit vectors: r^l Y_lm = Y_lm
    g = radial_values(r, max_order, radial)
    npl = n_per_l(max_order)
    gi, si, col = [], [], 0
    for l, nl in enumerate(npl):
        for k in range(nl):
            gi += [col + k] * (2 * l + 1)
            si += list(range(l * l, (l + 1) * (l + 1)))
        col += nl
    return g[:, np.array(gi)] * sh[:, np.array(si)]


def environment_moments(
    vectors: jnp.ndarray,
    centres: jnp.ndarray,
    edge_weights: jnp.ndarray,
    edge_mask: jnp.ndarray,
    n_nodes: int,
    *,
    cutoff: float,
    max_order: int,
    radial: str = "zernike",
    density: str = "delta",
    sigma: float = 0.0,
    cutoff_fn: str = "cosine",
    channels: jnp.ndarray | None = None,
    n_channels: int = 1,
) -> jnp.ndarray:
    """Moments of the neighbour density of every centre atom, [n_nodes, n_channels, K].

    Args:
        vectors: [E, 3] from the centre atom to its neighbour (Å).
        centres: [E] index of the centre atom of each edge.
        edge_weights: [E] species weight of the neighbour (1 for one plain channel).
        edge_mask: [E] bool, False for padding.
        n_nodes: number of (padded) atoms; static.
        cutoff: r_c (Å); neighbours farther away contribute zero.
        channels: [E] channel of each neighbour (its species) when ``n_channels > 1``.
    """
    r = masked_norm(vectors, edge_mask)
    w = edge_weights * cutoff_function(r, cutoff, cutoff_fn)
    w = jnp.where(edge_mask, w, 0.0)
    seg = centres if n_channels == 1 else centres * n_channels + channels
    if radial == "zernike":
        # Zernike moments are linear in the geometric ones: sum the edges' monomials
        # per atom first, then one matrix product per atom (not one per edge)
        x = jnp.where(edge_mask[:, None], vectors / cutoff, 0.0)
        if sigma == 0.0 and max_order > 0:  # deltas: the tangent rule of the sums
            m = summed_monomials(x, w, seg, n_nodes * n_channels, max_order)
        else:
            mono = edge_monomials(x, max_order, sigma / cutoff, weights=w)
            m = jax.ops.segment_sum(mono, seg, num_segments=n_nodes * n_channels)
        chi = jnp.asarray(geometric_to_zernike(max_order), dtype=vectors.dtype)
        return (m @ chi.T).reshape(n_nodes, n_channels, -1)
    f = edge_basis(
        vectors,
        edge_mask,
        cutoff=cutoff,
        max_order=max_order,
        radial=radial,
        density=density,
        sigma=sigma,
    )
    c = jax.ops.segment_sum(w[:, None] * f, seg, num_segments=n_nodes * n_channels)
    return c.reshape(n_nodes, n_channels, -1)
