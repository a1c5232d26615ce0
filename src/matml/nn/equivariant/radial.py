"""Radial embedding of edge lengths: Bessel functions times a smooth envelope."""

from __future__ import annotations

import jax
from flax import nnx

from matml.data.graph import safe_norm
from matml.nn.radial import bessel_basis, polynomial_cutoff

__all__ = ["RadialEmbedding"]


class RadialEmbedding(nnx.Module):
    """``|r| -> [E, n_basis]``: ``sqrt(2/rc) sin(k pi r / rc) / r`` (k = 1..n_basis)
    times the polynomial envelope of order ``p`` (zero with its first derivatives at
    the cutoff), and zero on padded edges. No parameters (NequIP and MACE keep the
    Bessel frequencies fixed by default too).
    """

    def __init__(self, cutoff: float, n_basis: int = 8, p: int = 5):
        self.cutoff = float(cutoff)
        self.n_basis = int(n_basis)
        self.p = int(p)

    def __call__(self, vectors: jax.Array, mask: jax.Array) -> jax.Array:
        r = safe_norm(vectors, mask)
        env = polynomial_cutoff(r, self.cutoff, self.p) * mask
        return bessel_basis(r, self.cutoff, self.n_basis) * env[:, None]
