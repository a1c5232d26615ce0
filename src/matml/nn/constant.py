"""Non-trainable variables: statistics of the training set (E0s, scale and shift,
feature means and scales). An optimiser sees only ``nnx.Param``; these ride along in
the saved model."""

from __future__ import annotations

from flax import nnx

__all__ = ["Constant"]


class Constant(nnx.Variable):
    """A variable that training does not change (set from training statistics)."""
