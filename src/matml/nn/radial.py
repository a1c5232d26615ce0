"""Radial bases and smooth cutoffs of interatomic distances."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["polynomial_cutoff", "bessel_basis"]


def polynomial_cutoff(r: jax.Array, cutoff: float, p: int = 6) -> jax.Array:
    """Smooth envelope: 1 at r = 0, falling to 0 at ``cutoff``.

    The polynomial of Klicpera et al. (DimeNet), used by NequIP and MACE: value, first and
    second derivatives vanish at the cutoff, so energies and forces stay continuous as an
    atom crosses it. Zero beyond the cutoff.
    """
    x = r / cutoff
    env = (
        1.0
        - (p + 1.0) * (p + 2.0) / 2.0 * x**p
        + p * (p + 2.0) * x ** (p + 1)
        - p * (p + 1.0) / 2.0 * x ** (p + 2)
    )
    return jnp.where(x < 1.0, env, 0.0)


def bessel_basis(r: jax.Array, cutoff: float, n: int = 8) -> jax.Array:
    """Spherical Bessel (sine) basis ``sqrt(2/rc) sin(k pi r / rc) / r``, k = 1..n -> [..., n].

    ``r`` must be positive (pass a safe norm for padded edges).
    """
    k = jnp.arange(1, n + 1, dtype=r.dtype)
    rr = r[..., None]
    return jnp.sqrt(2.0 / cutoff) * jnp.sin(k * jnp.pi * rr / cutoff) / rr
