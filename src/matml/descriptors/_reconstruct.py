"""Reconstruction: a density from its Zernike moments, a cluster from moments or invariants.

Because the Z_nlm are orthonormal on the unit ball, sum_{n <= N} c_nlm Z_nlm is the
L2-best approximation of degree N of the density; its error falls as N grows. Recovering
atom positions is the "invertible descriptor" idea of MILAD: minimise the squared
difference between the moments (or invariants) of trial positions and the target ones.
From moments the positions come back as they were; from invariants they come back up to
a rotation (and a reflection), which is all that invariants can know.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from matml.descriptors._coupling import InvariantTables
from matml.descriptors._invariants import invariants
from matml.descriptors._moments import edge_basis
from matml.descriptors._zernike import zernike_functions

__all__ = [
    "cluster_moments",
    "synthesize_density",
    "gaussian_density",
    "ball_grid",
    "recover_positions",
]


@partial(jax.jit, static_argnames=("max_order", "density", "sigma"))
def cluster_moments(
    x: jnp.ndarray,
    weights: jnp.ndarray | None = None,
    max_order: int = 7,
    density: str = "delta",
    sigma: float = 0.0,
) -> jnp.ndarray:
    """Zernike moments [K] of atoms at ``x`` ([M, 3], inside the unit ball), no cutoff."""
    weights = jnp.ones(x.shape[0], x.dtype) if weights is None else weights
    mask = jnp.ones(x.shape[0], bool)
    f = edge_basis(
        x, mask, cutoff=1.0, max_order=max_order, density=density, sigma=sigma
    )
    return weights @ f


@partial(jax.jit, static_argnames=("max_order",))
def synthesize_density(
    moments: jnp.ndarray, points: jnp.ndarray, max_order: int
) -> jnp.ndarray:
    """sum_{nlm} c_nlm Z_nlm(points), [P]: the order-N approximation of the density."""
    return zernike_functions(points, max_order) @ moments


def gaussian_density(
    points: jnp.ndarray, x: jnp.ndarray, sigma: float, weights=None
) -> jnp.ndarray:
    """sum_j w_j N(points; x_j, sigma^2 I), [P]."""
    weights = jnp.ones(x.shape[0], x.dtype) if weights is None else weights
    d2 = jnp.sum((points[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    norm = (2 * jnp.pi * sigma**2) ** -1.5
    return norm * jnp.exp(-0.5 * d2 / sigma**2) @ weights


def ball_grid(n: int) -> tuple[np.ndarray, float]:
    """Points of an n^3 grid on [-1, 1]^3 that lie in the unit ball, and the cell volume."""
    g = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    return pts[np.sum(pts**2, axis=1) < 1.0], (2.0 / n) ** 3


def recover_positions(
    target: np.ndarray,
    n_atoms: int,
    *,
    max_order: int,
    tables: InvariantTables | None = None,
    density: str = "delta",
    sigma: float = 0.0,
    restarts: int = 8,
    seed: int = 0,
    radius: float = 0.8,
) -> tuple[np.ndarray, float]:
    """Positions of ``n_atoms`` unit-weight atoms whose moments match ``target``.

    Args:
        target: Zernike moments [K], or invariants [F] when ``tables`` is given.
        n_atoms: number of atoms to place.
        max_order: N of the moments.
        tables: if given, match these invariants instead of the moments.
        restarts: random starts (uniform in a ball of ``radius``); the best is kept.

    Returns:
        (positions [n_atoms, 3], final loss = sum of squared differences).
    """
    from scipy.optimize import minimize

    target = jnp.asarray(target, dtype=jnp.float64)

    def features(x):
        c = cluster_moments(x, None, max_order, density, sigma)
        return c if tables is None else invariants(c[None, :], tables)[0]

    def loss(flat):
        d = features(flat.reshape(n_atoms, 3)) - target
        return jnp.sum(d * d)

    with jax.enable_x64(True):
        vg = jax.jit(jax.value_and_grad(loss))
        rng = np.random.default_rng(seed)
        best = (None, np.inf)
        for _ in range(restarts):
            u = rng.normal(size=(n_atoms, 3))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            u *= radius * rng.uniform(size=(n_atoms, 1)) ** (1 / 3)

            def fun(p):
                v, g = vg(jnp.asarray(p))
                return float(v), np.asarray(g, dtype=np.float64)

            res = minimize(
                fun, u.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 2000}
            )
            if res.fun < best[1]:
                best = (res.x.reshape(n_atoms, 3), float(res.fun))
            if best[1] < 1e-20:
                break
    return best
