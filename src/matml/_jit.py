"""``jax.jit`` with matml's XLA options: YNNPACK fusions off on the CPU backend.

Recent jaxlibs hand some of XLA's CPU fusions (elementwise ops feeding a reduction,
among others) to YNNPACK ("ynn fusions"). A gather that feeds one cannot fuse into it,
so it runs alone, element by element: the descriptor's moments, forward and reverse at
512 atoms, take 15.9 ms with these fusions and 9.6 ms without
(``benchmarks/xla_options.py --moments``). Whole energy + forces +
stress calls gain less, 0.63-0.97x the time in ``benchmarks/xla_options.py`` for every
model but ``mace`` small at 64 atoms (1.23x, in a noisy range of 0.97-1.62;
``benchmarks/results/xla_options.json``).

The options go to each compiled function (``jax.jit(..., compiler_options=...)``), not
to the process: a user's own JAX code keeps XLA's defaults. On other backends, with a
jaxlib that does not know the option, or with ``MATML_XLA_YNN=1`` in the environment,
nothing is changed.
"""

from __future__ import annotations

import os
from functools import cache

import jax

__all__ = ["jit", "compiler_options"]

_OFF = {"xla_cpu_experimental_ynn_fusion_type": ""}


@cache
def compiler_options() -> dict:
    """The XLA options matml compiles with here (empty where none apply)."""
    if os.environ.get("MATML_XLA_YNN", "0") == "1":
        return {}
    try:
        if jax.default_backend() != "cpu":
            return {}
        # an older jax has no compiler_options, an older jaxlib not this option
        jax.jit(lambda x: x + 1, compiler_options=_OFF).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - any refusal means: leave XLA's defaults
        return {}
    return dict(_OFF)


def jit(fn, **kwargs):
    """``jax.jit(fn, **kwargs)`` with :func:`compiler_options`."""
    opts = compiler_options()
    if opts:
        kwargs["compiler_options"] = {**opts, **kwargs.get("compiler_options", {})}
    return jax.jit(fn, **kwargs)
