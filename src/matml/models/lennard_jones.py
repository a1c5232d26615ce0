"""The analytic Lennard-Jones potential as a matml model (no trainable weights).

``phi(r) = 4 epsilon [(sigma/r)^12 - (sigma/r)^6]`` for ``r < cutoff``, optionally shifted so
that ``phi(cutoff) = 0`` (as ASE's ``LennardJones`` does). Registered as ``"lj"``, so the
analytic reference runs through :mod:`matml.potential` (forces and stress by autodiff, the
ASE calculator, padding) exactly like a learned model.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from matml.data.graph import AtomsGraph, safe_norm

__all__ = ["LennardJonesModel", "lj_pair_energy"]


def lj_pair_energy(r, epsilon: float = 1.0, sigma: float = 1.0):
    """``4 epsilon [(sigma/r)^12 - (sigma/r)^6]``.

    >>> round(float(lj_pair_energy(2 ** (1 / 6))), 12)
    -1.0
    """
    sr6 = (sigma / r) ** 6
    return 4.0 * epsilon * (sr6 * sr6 - sr6)


class LennardJonesModel(nnx.Module):
    """Per-atom Lennard-Jones energies ``1/2 sum_j phi(r_ij)`` over neighbours in cutoff.

    Args:
        species: chemical symbols (every pair gets the same epsilon and sigma).
        cutoff: truncation radius (same units as sigma).
        epsilon: depth of the well.
        sigma: distance where ``phi`` crosses zero.
        shift: subtract ``phi(cutoff)`` so the energy is continuous at the cutoff.
        dtype, rngs: accepted for a uniform model interface; unused.
    """

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        epsilon: float = 1.0,
        sigma: float = 1.0,
        shift: bool = True,
        dtype=None,
        rngs=None,
    ):
        self.cutoff = float(cutoff)
        self.epsilon = float(epsilon)
        self.sigma = float(sigma)
        self.shift = bool(shift)
        self.n_species = len(species)

    def __call__(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """Per-atom energies [N]."""
        mask = graph.edge_mask
        r = safe_norm(vectors, mask)
        phi = lj_pair_energy(r, self.epsilon, self.sigma)
        if self.shift:
            phi = phi - lj_pair_energy(self.cutoff, self.epsilon, self.sigma)
        phi = jnp.where(mask & (r < self.cutoff), phi, 0.0)
        return 0.5 * jax.ops.segment_sum(phi, graph.receivers, graph.num_nodes)
