"""Reconstruction of a density from its moments, and of a cluster from its moments."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from matml.descriptors import (
    ball_grid,
    cluster_moments,
    gaussian_density,
    recover_positions,
    synthesize_density,
)


def test_reconstruction_error_falls_with_order():
    # Gaussian moments are integrals over all space; keep the atoms' Gaussians well
    # inside the ball so that they equal the ball's orthogonal projection
    x = jnp.asarray(np.random.default_rng(0).uniform(-0.35, 0.35, (4, 3)))
    sigma = 0.15
    pts, _ = ball_grid(32)
    pts = jnp.asarray(pts)
    rho = gaussian_density(pts, x, sigma)
    errors = []
    for order in (2, 4, 6):
        c = cluster_moments(x, None, order, "gaussian", sigma)
        rec = synthesize_density(c, pts, order)
        errors.append(float(jnp.linalg.norm(rho - rec) / jnp.linalg.norm(rho)))
    assert all(b < 0.9 * a for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] < 0.6, errors


def test_cluster_positions_recovered_from_moments():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 3))
    target = cluster_moments(jnp.asarray(x), None, 4)
    pos, loss = recover_positions(np.asarray(target), 3, max_order=4, restarts=6)
    assert loss < 1e-9
    # atoms are interchangeable: compare after sorting by x
    np.testing.assert_allclose(
        pos[np.argsort(pos[:, 0])], x[np.argsort(x[:, 0])], atol=1e-4
    )
