"""Spherical harmonics of edge vectors, as blocks (e3nn-jax's real basis)."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

__all__ = ["edge_harmonics", "harmonics_irreps"]


def harmonics_irreps(max_ell: int) -> e3nn.Irreps:
    """``0e + 1o + 2e + ...`` up to ``max_ell`` (the parity of ``Y_l`` is (-1)^l)."""
    return e3nn.Irreps.spherical_harmonics(max_ell)


def edge_harmonics(vectors: jax.Array, mask: jax.Array, max_ell: int) -> tuple:
    """``Y_l(r / |r|)`` for l = 0..max_ell, component-normalised (each component has
    mean square 1 over the sphere): a tuple of ``[E, 2l + 1]`` arrays.

    Padded edges (``mask`` false, zero vectors) get the harmonics of a unit x vector;
    their radial weights are zero, so they contribute nothing, and their gradient is
    finite.
    """
    unit = jnp.zeros_like(vectors).at[:, 0].set(1.0)
    v = jnp.where(mask[:, None], vectors, unit)
    sh = e3nn.spherical_harmonics(
        harmonics_irreps(max_ell), v, normalize=True, normalization="component"
    )
    return tuple(sh.array[:, l * l : (l + 1) * (l + 1)] for l in range(max_ell + 1))
