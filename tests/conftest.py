"""Shared fixtures. NaN/Inf trapping is on for every test (as in e3nn-jax)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jax
import pytest

# No global float64: the default float32 path is what users run, so it is what the
# tests run; float64 checks build float64 potentials, which run under
# ``matml.potential.precision`` (thread-local), or use ``jax.enable_x64`` themselves.
jax.config.update("jax_debug_nans", True)
# Tests build many jitted closures of identical computations (one per Trainer, per
# calculator): a compilation cache shared by them keeps the suite's compile time down.
jax.config.update(
    "jax_compilation_cache_dir",
    os.environ.get(
        "MATML_TEST_JAX_CACHE", str(Path(tempfile.gettempdir()) / "matml-jax-cache")
    ),
)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
jax.config.update("jax_debug_infs", True)

SHARED = Path(
    os.environ.get(
        "MATML_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"
    )
).resolve()
MLEARN = SHARED / "data" / "mlearn"


@pytest.fixture
def key():
    """A fresh PRNG key for each test."""
    return jax.random.key(0)


@pytest.fixture(scope="session")
def mlearn_dir() -> Path:
    if not (MLEARN / "Si" / "training.json").exists():
        pytest.skip(f"mlearn data not found at {MLEARN}")
    return MLEARN


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED
