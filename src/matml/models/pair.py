"""Pair network: a learned pair energy phi(r, species_i, species_j), summed over pairs.

The course's first machine-learned potential. ``E = 1/2 sum_{i != j} phi(r_ij) f_c(r_ij)``
with ``phi`` an MLP (SiLU) of a Bessel expansion of the distance and of the two species.
With ``embedding > 0`` a many-body term is added, as in the embedded-atom method:
``E_i += F(rho_i)``, ``rho_i = sum_j g(r_ij) f_c(r_ij)`` with ``K = embedding`` learned
density channels ``g`` and a learned embedding function ``F``; that is what metals need.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from matml.data.graph import AtomsGraph, safe_norm
from matml.nn import MLP, bessel_basis, polynomial_cutoff

__all__ = ["PairNetwork"]


class PairNetwork(nnx.Module):
    """Per-atom energies from a learned pair potential (plus an optional EAM term).

    Args:
        species: chemical symbols, in the order of ``graph.species`` indices.
        cutoff: interaction range, Å.
        hidden: hidden layer widths of the pair MLP.
        n_basis: number of Bessel functions expanding the distance.
        species_dim: width of the learned species embedding.
        embedding: number of EAM density channels (0: a pure pair potential).
        rngs: initial weights (``nnx.Rngs``; default seed 0).
    """

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        hidden: Sequence[int] = (64, 64),
        n_basis: int = 8,
        species_dim: int = 8,
        embedding: int = 0,
        activation: str = "silu",
        dtype=None,
        rngs: nnx.Rngs | None = None,
    ):
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.cutoff = float(cutoff)
        self.n_basis = int(n_basis)
        self.n_species = len(species)
        self.embedding = int(embedding)
        dtype = dtype or jnp.float32
        self.species_embed = nnx.Param(
            jax.random.normal(rngs.params(), (self.n_species, species_dim), dtype)
        )
        width = n_basis + species_dim
        self.phi = MLP(
            [width, *hidden, 1 + self.embedding],
            activation=activation,
            rngs=rngs,
            dtype=dtype,
        )
        if self.embedding:
            self.embed_fn = MLP(
                [self.embedding + species_dim, *hidden, 1],
                activation=activation,
                rngs=rngs,
                dtype=dtype,
            )

    def edge_terms(self, r: jax.Array, si: jax.Array, sj: jax.Array) -> jax.Array:
        """Pair energy (column 0) and densities (columns 1..K) for distances ``r``,
        before the cutoff envelope: [E, 1 + K]."""
        z = self.species_embed[...]
        feats = jnp.concatenate(
            [bessel_basis(r, self.cutoff, self.n_basis), z[si] + z[sj]], axis=-1
        )
        return self.phi(feats)

    def __call__(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """Per-atom energies [N] (in the model's normalised units)."""
        mask = graph.edge_mask
        r = safe_norm(vectors, mask)
        si, sj = graph.species[graph.receivers], graph.species[graph.senders]
        out = self.edge_terms(r, si, sj)
        env = polynomial_cutoff(r, self.cutoff) * mask
        n = graph.num_nodes
        pair = 0.5 * jax.ops.segment_sum(out[:, 0] * env, graph.receivers, n)
        if not self.embedding:
            return pair
        rho = jax.ops.segment_sum(out[:, 1:] * env[:, None], graph.receivers, n)
        z = self.species_embed[...][graph.species]
        return pair + self.embed_fn(jnp.concatenate([rho, z], axis=-1))[:, 0]
