"""Species embedding: a learned vector of scalars per chemical species, optionally plus
a learned linear map of fixed per-element properties."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml.nn.constant import Constant

__all__ = ["SpeciesEmbedding"]


class SpeciesEmbedding(nnx.Module):
    """``species [N] -> [N, 1, channels]`` scalars (``channels x 0e``).

    Initialised with unit-variance normal entries, so the first layer's features are
    component-normalised whatever the number of species.

    ``features`` (``[n_species, P]``, standardised element properties such as
    :func:`matml.io.elements.element_features`): the embedding is then the mean of the
    learned vector and a learned linear map of the element's properties (kept as a
    constant in the saved model), so that rare elements start near elements like them.
    """

    def __init__(
        self,
        n_species: int,
        channels: int,
        *,
        rngs: nnx.Rngs,
        dtype=None,
        features: np.ndarray | None = None,
    ):
        dtype = dtype or jnp.float32
        self.table = nnx.Param(
            jax.random.normal(rngs.params(), (n_species, channels), dtype)
        )
        if features is None:
            self.features = None
            return
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[0] != n_species:
            raise ValueError(
                f"species features: shape [{n_species}, P] expected, got "
                f"{list(features.shape)}"
            )
        p = features.shape[1]
        self.features = Constant(jnp.asarray(features, dtype))
        self.project = nnx.Param(
            jax.random.normal(rngs.params(), (p, channels), dtype) / float(np.sqrt(p))
        )

    def __call__(self, species: jax.Array) -> jax.Array:
        table = self.table[...]
        if self.features is not None:
            # unit variance in, unit variance out: (a + b) / sqrt(2)
            table = (table + self.features[...] @ self.project[...]) * 0.5**0.5
        return table[species][:, None, :]
