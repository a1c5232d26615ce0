"""Equivariant linear layers: self-interaction and mixing of channels within each irrep."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["IrrepsLinear"]


class IrrepsLinear(nnx.Module):
    """Blocks of ``irreps_in`` -> blocks of ``irreps_out``: for every output irrep, all
    input channels of the same irrep (concatenated) times a weight matrix, divided by
    the square root of the fan-in (so unit-variance features stay unit-variance).

    An output irrep that no input carries is an error (it would be identically zero).
    ``n_species > 1`` with ``per_species=True`` gives each species its own weights (the
    skip connection of MACE and NequIP's self-connection, a tensor product with the
    one-hot species).

    Args:
        irreps_in, irreps_out: ``e3nn.Irreps`` (or strings) of the blocks.
        n_species: number of species (only read with ``per_species``).
        per_species: one weight matrix per species.
        bias: add a learned bias to the scalar (0e) outputs.
    """

    def __init__(
        self,
        irreps_in,
        irreps_out,
        *,
        n_species: int = 1,
        per_species: bool = False,
        bias: bool = False,
        rngs: nnx.Rngs,
        dtype=None,
    ):
        dtype = dtype or jnp.float32
        self.irreps_in = e3nn.Irreps(irreps_in)
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.n_species = int(n_species) if per_species else 1
        sources = []  # per output block: indices of the input blocks of its irrep
        weights = []
        for mul, ir in self.irreps_out:
            idx = tuple(i for i, (_, ir_in) in enumerate(self.irreps_in) if ir_in == ir)
            if not idx:
                raise ValueError(
                    f"IrrepsLinear: output irrep {ir} is in none of the inputs "
                    f"{self.irreps_in}"
                )
            fan_in = sum(self.irreps_in[i].mul for i in idx)
            shape = (self.n_species, fan_in, mul)
            weights.append(
                nnx.Param(jax.random.normal(rngs.params(), shape, dtype) / fan_in**0.5)
            )
            sources.append(idx)
        self.sources = tuple(sources)
        self.weights = nnx.List(weights)
        n0 = sum(mul for mul, ir in self.irreps_out if ir == e3nn.Irrep("0e"))
        self.bias = nnx.Param(jnp.zeros((n0,), dtype)) if bias and n0 else None

    def __call__(self, blocks, species: jax.Array | None = None):
        out = []
        start = 0
        for (mul, ir), idx, w in zip(
            self.irreps_out, self.sources, self.weights, strict=True
        ):
            x = (
                blocks[idx[0]]
                if len(idx) == 1
                else jnp.concatenate([blocks[i] for i in idx], axis=2)
            )  # [N, d, fan_in]
            w = w[...]
            if self.n_species == 1:
                y = x @ w[0]
            else:  # every species' product, then each node picks its own
                s, cin, cout = w.shape
                y = (x @ jnp.moveaxis(w, 0, 1).reshape(cin, s * cout)).reshape(
                    *x.shape[:2], s, cout
                )
                onehot = jax.nn.one_hot(species, s, dtype=x.dtype)
                y = jnp.einsum("nmsd,ns->nmd", y, onehot)
            if self.bias is not None and ir == e3nn.Irrep("0e"):
                y = y + self.bias[...][start : start + mul]
                start += mul
            out.append(y)
        return tuple(out)
