"""Zernike basis, geometric moments and their quadrature references."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from numpy.polynomial.legendre import leggauss

from matml.descriptors import (
    cluster_moments,
    geometric_moments,
    geometric_to_zernike,
    monomial_exponents,
    zernike_functions,
    zernike_indices,
    zernike_radial,
)
from matml.descriptors._geometric import edge_monomials

N = 5


def _ball_quadrature(nr=16, nt=16, nphi=32):
    """Gauss-Legendre in r and cos(theta), uniform in phi: exact for degree-10 polys."""
    r, wr = leggauss(nr)
    r, wr = (r + 1) / 2, wr / 2
    ct, wt = leggauss(nt)
    phi = np.linspace(0, 2 * np.pi, nphi, endpoint=False)
    R, C, PH = np.meshgrid(r, ct, phi, indexing="ij")
    w = (wr * r**2)[:, None, None] * wt[None, :, None] * (2 * np.pi / nphi)
    w = np.broadcast_to(w, R.shape)
    S = np.sqrt(1 - C**2)
    pts = np.stack([R * S * np.cos(PH), R * S * np.sin(PH), R * C], -1)
    return pts.reshape(-1, 3), w.reshape(-1)


def test_zernike_basis_is_orthonormal_on_the_unit_ball():
    pts, w = _ball_quadrature()
    z = np.asarray(zernike_functions(jnp.asarray(pts), N))
    gram = (z * w[:, None]).T @ z
    assert z.shape[1] == len(zernike_indices(N)) == len(monomial_exponents(N)) == 56
    np.testing.assert_allclose(gram, np.eye(56), atol=1e-12)


def test_zernike_radial_is_orthonormal_with_r2_weight():
    r, w = leggauss(20)
    r, w = (r + 1) / 2, w / 2
    for l in range(4):
        ns = range(l, 8, 2)
        vals = np.array([np.asarray(zernike_radial(jnp.asarray(r), n, l)) for n in ns])
        np.testing.assert_allclose(
            (vals * w * r**2) @ vals.T, np.eye(len(ns)), atol=1e-12
        )


def test_geometric_to_zernike_matches_direct_evaluation():
    x = np.random.default_rng(0).uniform(-0.6, 0.6, (40, 3))
    direct = np.asarray(zernike_functions(jnp.asarray(x), N))
    via_chi = np.asarray(edge_monomials(jnp.asarray(x), N)) @ geometric_to_zernike(N).T
    np.testing.assert_allclose(via_chi, direct, atol=1e-12)


def _box_grid(n=48, half=1.6):
    g = (np.arange(n) + 0.5) / n * 2 * half - half
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    return pts, (2 * half / n) ** 3


def _gaussians(pts, centres, weights, sigma):
    d2 = ((pts[:, None, :] - centres[None]) ** 2).sum(-1)
    return np.exp(-0.5 * d2 / sigma**2) @ weights / (2 * np.pi * sigma**2) ** 1.5


def test_gaussian_moments_equal_grid_quadrature():
    centres = np.array([[0.2, -0.1, 0.3], [-0.3, 0.25, -0.1]])
    weights = np.array([1.0, 0.7])
    sigma = 0.15
    pts, dv = _box_grid()
    rho = _gaussians(pts, centres, weights, sigma)
    exps = monomial_exponents(N)
    ref = np.array([np.sum(rho * np.prod(pts**e, axis=1)) * dv for e in exps])
    got = np.asarray(
        geometric_moments(jnp.asarray(centres), jnp.asarray(weights), N, sigma)
    )
    np.testing.assert_allclose(got, ref, atol=1e-9)
    # Zernike moments: analytic (via chi) against quadrature of rho * Z_nlm
    z = np.asarray(zernike_functions(jnp.asarray(pts), N))
    ref_z = (rho * dv) @ z
    got_z = np.asarray(
        cluster_moments(
            jnp.asarray(centres), jnp.asarray(weights), N, "gaussian", sigma
        )
    )
    np.testing.assert_allclose(got_z, ref_z, atol=1e-8)


def test_narrow_gaussian_tends_to_delta():
    x = jnp.asarray(np.random.default_rng(1).uniform(-0.5, 0.5, (3, 3)))
    delta = cluster_moments(x, None, N)
    narrow = cluster_moments(x, None, N, "gaussian", 1e-4)
    np.testing.assert_allclose(np.asarray(narrow), np.asarray(delta), atol=1e-6)
