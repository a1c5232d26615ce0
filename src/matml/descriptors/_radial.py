"""Radial bases beside Zernike's: spherical Bessel (j_0 type) and Chebyshev.

Each basis gives, for every l, ``n_l`` radial functions g_lk(r) on r in [0, 1] (scaled
distance); the moment of block (l, k) is sum_j w_j g_lk(r_j) Y_lm(x_j / r_j). With
``n_l = (N - l) // 2 + 1`` every basis has the same block structure as Zernike order N,
so the same invariants apply. Unlike Zernike's, these functions do not carry the factor
r^l, so the moments are not polynomials in x; they are used with delta densities only.

* ``"bessel"``: g_lk(r) = sqrt(2) sin((k + 1) pi r) / r, the same for every l; orthonormal
  with weight r^2 on [0, 1] and zero at r = 1 (Dirichlet boundary).
* ``"chebyshev"``: g_lk(r) = T_k(2 r - 1), the same for every l (not orthonormal).
* ``"zernike"``: R_nl(r) with n = l + 2k, see :mod:`matml.descriptors._zernike`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from matml.descriptors._zernike import zernike_q_coefficients

__all__ = ["RADIAL_BASES", "n_per_l", "radial_values"]

RADIAL_BASES = ("zernike", "bessel", "chebyshev")


def n_per_l(max_order: int) -> tuple[int, ...]:
    """Radial channels per l for order N: (N - l) // 2 + 1 for l = 0 .. N.

    >>> n_per_l(7)
    (4, 4, 3, 3, 2, 2, 1, 1)
    """
    return tuple((max_order - l) // 2 + 1 for l in range(max_order + 1))


def radial_values(r: jnp.ndarray, max_order: int, kind: str) -> jnp.ndarray:
    """g_lk(r) for every block (l, k) in flat block order, [E, n_blocks]."""
    npl = n_per_l(max_order)
    kmax = max(npl)
    if kind == "bessel":
        k = jnp.arange(1, kmax + 1, dtype=r.dtype)
        # sin(k pi r) / r = k pi sinc(k r); jnp.sinc is smooth at 0
        base = np.sqrt(2.0) * jnp.pi * k * jnp.sinc(r[:, None] * k)
    elif kind == "chebyshev":
        t = 2.0 * r - 1.0
        cols = [jnp.ones_like(t), t]
        for _ in range(2, kmax):
            cols.append(2.0 * t * cols[-1] - cols[-2])
        base = jnp.stack(cols[:kmax], axis=-1)
    elif kind == "zernike":
        s = r * r
        spow = jnp.stack([s**j for j in range(kmax)], axis=-1)
        qmat = np.zeros((kmax, sum(npl)))
        col = 0
        for l, nl in enumerate(npl):
            for k in range(nl):
                q = zernike_q_coefficients(l + 2 * k, l)
                qmat[: len(q), col] = q
                col += 1
        lpow = np.concatenate([[l] * nl for l, nl in enumerate(npl)])
        return (spow @ jnp.asarray(qmat, dtype=r.dtype)) * r[:, None] ** lpow
    else:  # pragma: no cover - validated by the API
        raise ValueError(f"unknown radial basis {kind!r}; choose from {RADIAL_BASES}")
    kidx = np.concatenate([np.arange(nl) for nl in npl])
    return base[:, kidx]
