"""Gated non-linearity (NequIP): activations on scalars, sigmoid gates on the rest."""

from __future__ import annotations

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp

from matml.nn.mlp import SIGMOID_NORM, SILU_NORM, TANH_NORM

__all__ = ["Gate"]


class Gate:
    """Blocks of ``scalars + gates + gated`` -> blocks of ``scalars + gated``.

    Even scalars go through SiLU, odd ones through tanh (an odd function keeps their
    parity); each channel of a gated block (l > 0) is multiplied by the sigmoid of its
    own gate scalar. All three activations are normalised to unit second moment on
    unit-normal inputs (as e3nn's gates). :meth:`input_irreps` says what the layer
    before must produce.

    Args:
        irreps_out: the features after the gate, e.g. ``32x0e + 32x1o``.
    """

    def __init__(self, irreps_out):
        self.irreps_out = e3nn.Irreps(irreps_out)
        self.scalars = e3nn.Irreps([(m, ir) for m, ir in self.irreps_out if ir.l == 0])
        self.gated = e3nn.Irreps([(m, ir) for m, ir in self.irreps_out if ir.l > 0])
        self.n_gates = self.gated.num_irreps

    def input_irreps(self) -> e3nn.Irreps:
        gates = [(self.n_gates, "0e")] if self.n_gates else []
        return e3nn.Irreps([*self.scalars, *gates, *self.gated])

    def __call__(self, blocks):
        ns = len(self.scalars)
        out = []
        for (_, ir), x in zip(self.scalars, blocks[:ns], strict=True):
            out.append(
                SILU_NORM * jax.nn.silu(x) if ir.p == 1 else TANH_NORM * jnp.tanh(x)
            )
        if self.n_gates:
            gates = SIGMOID_NORM * jax.nn.sigmoid(blocks[ns])  # [N, 1, n_gates]
            start = 0
            for (mul, _), x in zip(self.gated, blocks[ns + 1 :], strict=True):
                out.append(x * gates[:, :, start : start + mul])
                start += mul
        return tuple(out)
