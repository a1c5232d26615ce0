"""The compiled ``(state, graph) -> Predictions`` of a potential, and its precision.

A float64 potential runs inside :func:`precision` (JAX's thread-local
``jax.enable_x64`` context), so loading or running one never switches float64 on for
the whole process behind the user's back. Everything that calls a potential (the
trainer, evaluation, the ASE calculator, :mod:`matml.testing`) goes through
:func:`predict_fn`, so one architecture compiles once per shape.
"""

from __future__ import annotations

import contextlib
from functools import lru_cache

import jax
import numpy as np
from flax import nnx

from matml._jit import jit
from matml.potential.autodiff import predict

__all__ = ["precision", "predict_fn", "is_float64"]


def is_float64(dtype) -> bool:
    return dtype is not None and np.dtype(dtype) == np.float64


def precision(dtype):
    """Context in which arrays of ``dtype`` keep their precision: ``jax.enable_x64``
    for float64 (thread-local, undone on exit), nothing for float32.

    >>> import jax.numpy as jnp
    >>> with precision("float64"):
    ...     jnp.ones(2, "float64").dtype
    dtype('float64')
    >>> jnp.ones(2).dtype
    dtype('float32')
    """
    if is_float64(dtype) and not jax.config.jax_enable_x64:
        return jax.enable_x64(True)
    return contextlib.nullcontext()


@lru_cache(maxsize=32)
def _jitted(graphdef, stress: bool, forces: bool = True):
    def fn(state, graph):
        pot = nnx.merge(graphdef, state)
        return predict(pot, graph, stress=stress, forces=forces)

    return jit(fn)


def predict_fn(graphdef, stress: bool = True, dtype=None, *, forces: bool = True):
    """A jitted ``(state, graph) -> Predictions`` for one model architecture.

    Shared by every caller with the same ``graphdef`` (compiled once per shape).
    ``graph`` may hold numpy arrays (one transfer to the device). With a float64
    ``dtype`` the call runs under :func:`precision`.
    """
    fn = _jitted(graphdef, bool(stress), bool(forces))
    if not is_float64(dtype):
        return fn

    def call(state, graph):
        with precision(dtype):
            return fn(state, graph)

    return call
