"""Species embedding: a learned vector of scalars per chemical species."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["SpeciesEmbedding"]


class SpeciesEmbedding(nnx.Module):
    """``species [N] -> [N, 1, channels]`` scalars (``channels x 0e``).

    Initialised with unit-variance normal entries, so the first layer's features are
    component-normalised whatever the number of species.
    """

    def __init__(self, n_species: int, channels: int, *, rngs: nnx.Rngs, dtype=None):
        self.table = nnx.Param(
            jax.random.normal(
                rngs.params(), (n_species, channels), dtype or jnp.float32
            )
        )

    def __call__(self, species: jax.Array) -> jax.Array:
        return self.table[...][species][:, None, :]
