"""matml's jit: XLA's YNNPACK fusions off on the CPU backend, per compiled function."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from matml import _jit


def test_options_apply_here_and_keep_the_numbers(monkeypatch):
    opts = _jit.compiler_options()
    assert jax.default_backend() != "cpu" or opts in (
        {},  # a jaxlib without the option
        {"xla_cpu_experimental_ynn_fusion_type": ""},
    )
    x = jnp.linspace(-1.0, 1.0, 4096).reshape(64, 64)

    def f(x):
        return jnp.sum(jnp.sin(x) * x[::-1], axis=1)

    # the same function; sums may run in another order
    np.testing.assert_allclose(_jit.jit(f)(x), jax.jit(f)(x), rtol=1e-6, atol=1e-6)
    # the environment switch gives XLA's defaults back
    monkeypatch.setenv("MATML_XLA_YNN", "1")
    _jit.compiler_options.cache_clear()
    try:
        assert _jit.compiler_options() == {}
    finally:
        monkeypatch.delenv("MATML_XLA_YNN")
        _jit.compiler_options.cache_clear()
    assert _jit.compiler_options() == opts
