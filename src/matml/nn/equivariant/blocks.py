"""Irreps-valued features as blocks: one ``[N, 2l + 1, mul]`` array per ``mul x ir``
(channels last)."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

__all__ = [
    "Blocks",
    "blocks_from_irreps_array",
    "blocks_to_irreps_array",
    "concat_flat",
    "split_flat",
]

Blocks = tuple  # of jax.Array, aligned with an e3nn.Irreps


def blocks_from_irreps_array(x: e3nn.IrrepsArray) -> Blocks:
    """An ``IrrepsArray [N, dim]`` as blocks (zero chunks become zero arrays)."""
    out = []
    for (mul, ir), chunk in zip(x.irreps, x.chunks, strict=True):
        if chunk is None:
            chunk = jnp.zeros((*x.shape[:-1], mul, ir.dim), x.dtype)
        out.append(jnp.swapaxes(chunk, -1, -2))
    return tuple(out)


def blocks_to_irreps_array(irreps: e3nn.Irreps, blocks: Blocks) -> e3nn.IrrepsArray:
    """Blocks back to an ``IrrepsArray`` (for e3nn-jax's own functions and tests)."""
    chunks = [jnp.swapaxes(b, -1, -2) for b in blocks]
    return e3nn.from_chunks(irreps, chunks, blocks[0].shape[:-2])


def concat_flat(blocks: Blocks) -> jax.Array:
    """Blocks as one flat ``[N, sum mul * d]`` array (one gather or scatter for all)."""
    n = blocks[0].shape[0]
    if len(blocks) == 1:
        return blocks[0].reshape(n, -1)
    return jnp.concatenate([b.reshape(n, -1) for b in blocks], axis=1)


def split_flat(irreps: e3nn.Irreps, flat: jax.Array) -> Blocks:
    """Inverse of :func:`concat_flat`."""
    out, start = [], 0
    for mul, ir in irreps:
        size = mul * ir.dim
        out.append(flat[:, start : start + size].reshape(-1, ir.dim, mul))
        start += size
    return tuple(out)
