"""A plain multilayer perceptron (flax nnx)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
from flax import nnx

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, Callable] = {
    "silu": jax.nn.silu,
    "tanh": jax.numpy.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
}


class MLP(nnx.Module):
    """Dense layers ``sizes[0] -> ... -> sizes[-1]`` with an activation between them.

    Args:
        sizes: layer widths, input first, output last.
        activation: ``silu`` (default), ``tanh``, ``gelu`` or ``softplus``.
        bias: learned biases (without them an MLP maps 0 to 0).
        rngs: flax random streams for the initial weights.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "silu",
        bias: bool = True,
        rngs: nnx.Rngs,
        dtype=None,
    ):
        if len(sizes) < 2:
            raise ValueError("an MLP needs at least input and output sizes")
        self.act = _ACTIVATIONS[activation]
        self.layers = nnx.List(
            [
                nnx.Linear(
                    a,
                    b,
                    use_bias=bias,
                    rngs=rngs,
                    param_dtype=dtype or jax.numpy.float32,
                )
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )

    def __call__(self, x: jax.Array) -> jax.Array:
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)
