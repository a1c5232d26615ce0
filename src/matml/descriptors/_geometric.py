"""Geometric moments m_pqr = integral of x^p y^q z^r rho(x) over space, p + q + r <= N.

For a Dirac delta at mu the moment is mu_x^p mu_y^q mu_z^r. For a normalised isotropic
Gaussian of width sigma the integral over all of R^3 factorises into 1D moments of a normal
variable, E[(mu + sigma Z)^p] = sum_{j even} C(p, j) mu^(p-j) sigma^j (j - 1)!!, so both
densities are the same matrix product on powers of the centre (sigma = 0 gives the delta).
Moments of a Gaussian are taken over all space, not only the unit ball (as MILAD does);
with sigma small against the distance of the atom to the ball's surface the difference
is negligible.
"""

from __future__ import annotations

from functools import cache

import jax.numpy as jnp
import numpy as np
from scipy.special import comb

__all__ = [
    "monomial_exponents",
    "gaussian_power_matrix",
    "edge_monomials",
    "geometric_moments",
]


@cache
def monomial_exponents(max_order: int) -> np.ndarray:
    """Exponents (p, q, r) of all monomials with p + q + r <= ``max_order``, [M, 3].

    Ordered by total degree, then lexicographically (descending p, then q).

    >>> monomial_exponents(1).tolist()
    [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    out = []
    for d in range(max_order + 1):
        for p in range(d, -1, -1):
            for q in range(d - p, -1, -1):
                out.append((p, q, d - p - q))
    return np.array(out, dtype=np.int64)


def _double_factorial(n: int) -> int:
    return 1 if n <= 0 else n * _double_factorial(n - 2)


@cache
def gaussian_power_matrix(max_order: int, sigma: float) -> np.ndarray:
    """A[p, d] with E[(mu + sigma Z)^p] = sum_d A[p, d] mu^d for a standard normal Z.

    >>> gaussian_power_matrix(2, 0.5).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.25, 0.0, 1.0]]
    """
    a = np.zeros((max_order + 1, max_order + 1))
    for p in range(max_order + 1):
        for j in range(0, p + 1, 2):
            a[p, p - j] = comb(p, j, exact=True) * sigma**j * _double_factorial(j - 1)
    return a


def edge_monomials(
    x: jnp.ndarray, max_order: int, sigma: float = 0.0, weights=None
) -> jnp.ndarray:
    """Per-edge geometric moments of a unit-mass delta (sigma = 0) or Gaussian at ``x``.

    Args:
        x: centres of the densities in the unit ball, [E, 3].
        max_order: N, the largest total degree p + q + r.
        sigma: width of the Gaussian in the same (scaled) units as ``x``.
        weights: [E] masses of the densities (default 1). Folded into the first
            factor, so the backward pass has no separate reduction over monomials
            (3x faster than multiplying the result).

    Returns:
        [E, M] moments in the order of :func:`monomial_exponents`.
    """
    n = max_order
    if sigma == 0.0:
        return _delta_monomials(x, n, weights)
    powers = jnp.stack([x**d for d in range(n + 1)], axis=-1)  # [E, 3, N+1]
    a = jnp.asarray(gaussian_power_matrix(n, float(sigma)), dtype=x.dtype)
    powers = jnp.einsum("ecd,pd->ecp", powers, a)
    if weights is not None:
        powers = powers.at[:, 0].multiply(weights[:, None])
    # x^p y^q z^r by three constant 0/1 matrix products, not by gathers of columns:
    # XLA's CPU backend runs gathers (and their transposes, scatters) element by
    # element; matrix products and their transposes are dense
    pick = jnp.asarray(_exponent_one_hot(n), dtype=x.dtype)  # [3, N+1, M]
    return (
        (powers[:, 0] @ pick[0]) * (powers[:, 1] @ pick[1]) * (powers[:, 2] @ pick[2])
    )


def _delta_monomials(x: jnp.ndarray, max_order: int, weights=None) -> jnp.ndarray:
    """x^p y^q z^r [E, M] degree by degree: in the order of :func:`monomial_exponents`
    the monomials of degree d are x times all of degree d - 1, then y times those of
    degree d - 1 without x, then z times z^(d-1). Slices and products only (no gathers,
    no thin matrix products): 2x faster forward and backward than powers and picks."""
    cx, cy, cz = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    prev = jnp.ones_like(cx) if weights is None else weights[:, None].astype(x.dtype)
    blocks = [prev]
    for d in range(1, max_order + 1):
        prev = jnp.concatenate(
            [cx * prev, cy * prev[:, -d:], cz * prev[:, -1:]], axis=1
        )
        blocks.append(prev)
    return jnp.concatenate(blocks, axis=1)


@cache
def _exponent_one_hot(max_order: int) -> np.ndarray:
    """[3, N+1, M]: entry (axis, d, i) is 1 where monomial i has power d along axis."""
    exps = monomial_exponents(max_order)
    out = np.zeros((3, max_order + 1, len(exps)))
    for axis in range(3):
        out[axis, exps[:, axis], np.arange(len(exps))] = 1.0
    return out


def geometric_moments(
    x: jnp.ndarray, weights: jnp.ndarray, max_order: int, sigma: float = 0.0
) -> jnp.ndarray:
    """Geometric moments of the density sum_j weights_j g(x - x_j), [M].

    >>> m = geometric_moments(jnp.array([[0.5, 0.0, 0.0]]), jnp.array([2.0]), 1)
    >>> m.tolist()
    [2.0, 1.0, 0.0, 0.0]
    """
    return jnp.einsum("e,em->m", weights, edge_monomials(x, max_order, sigma))
