"""``jax.jit`` with matml's XLA options: YNNPACK fusions off on the CPU backend.

Recent jaxlibs hand some of XLA's CPU fusions (elementwise ops feeding a reduction,
among others) to YNNPACK ("ynn fusions"). In matml's potentials these fusions are slower
than XLA's own loops: a gather that feeds one cannot fuse into it, so it runs alone,
element by element. Measured on 2 cores (energy + forces + stress, float32, the
64- and 512-atom Si cells of ``benchmarks/speed.py``, both variants compiled in one
process and timed alternately; time with the fusions off over time with them on, median
of 8 pairs): ``descriptor`` 0.91 / 0.71, ``linear`` 0.82 / 0.62, ``pair`` 0.83 / 0.84,
``nequip`` small 0.77 / 1.01, wide 0.90 / 0.91, ``mace`` small 0.96 / 1.00. The
moments' reverse pass alone went from 13-14 ms to 3.6-3.9 ms at 512 atoms.

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
