"""Float64 for every descriptor test, and shared helpers."""

from __future__ import annotations

import jax
import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="module")
def _x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def random_rotation():
    """A function seed -> random proper rotation matrix (det +1)."""
    return _random_rotation


def _random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q
