"""A plain multilayer perceptron (flax nnx)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
from flax import nnx

__all__ = ["MLP"]

# 1 / sqrt(E[f(z)^2]) for z ~ N(0, 1) (Gauss-Hermite quadrature): a "normalised"
# activation keeps unit-variance inputs at unit second moment, as e3nn's normalize2mom
SILU_NORM = 1.6765324703310920
TANH_NORM = 1.5925374197228321
SIGMOID_NORM = 1.8462285453386058

_ACTIVATIONS: dict[str, Callable] = {
    "silu": jax.nn.silu,
    "silu_normalized": lambda x: SILU_NORM * jax.nn.silu(x),
    "tanh": jax.numpy.tanh,
    "gelu": jax.nn.gelu,
    "softplus": jax.nn.softplus,
}


class MLP(nnx.Module):
    """Dense layers ``sizes[0] -> ... -> sizes[-1]`` with an activation between them.

    Args:
        sizes: layer widths, input first, output last.
        activation: ``silu`` (default), ``silu_normalized`` (SiLU scaled to unit second
            moment on unit-normal inputs), ``tanh``, ``gelu`` or ``softplus``.
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
