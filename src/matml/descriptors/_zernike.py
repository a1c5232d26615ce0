"""3D Zernike functions Z_nlm(x) = R_nl(|x|) Y_lm(x / |x|) on the unit ball.

Conventions (stated once, used everywhere in :mod:`matml.descriptors`):

* Y_lm are e3nn-jax's real spherical harmonics with ``normalization="integral"``, i.e.
  orthonormal on the unit sphere (integral of Y_lm Y_l'm' over the sphere = delta), with
  e3nn-jax's component order (l = 1 is (x, y, z) times sqrt(3 / 4 pi)). e3nn-jax's
  "component" normalisation (sum_m Y_lm^2 = 2l + 1) differs from ours by sqrt(4 pi) per l.
* R_nl(r) = sqrt(2n + 3) r^l P_k^(0, l + 1/2)(2 r^2 - 1), k = (n - l) / 2, with P a Jacobi
  polynomial, so that the integral of R_nl R_n'l r^2 dr over [0, 1] is delta_nn'.
  Together the Z_nlm (n <= N, l <= n, n - l even) are real and orthonormal on the unit
  ball, and span exactly the polynomials of degree <= N in (x, y, z): there are as many
  of them as monomials (120 for N = 7).
* The Zernike moment of a density is c_nlm = integral of rho(x) Z_nlm(x) dx (real basis,
  so no complex conjugate), and rho is recovered as sum c_nlm Z_nlm (orthonormality).

Because r^l Y_lm(x / r) is e3nn-jax's homogeneous polynomial (``normalize=False``),
Z_nlm = Q_nl(r^2) S_lm(x) is a polynomial with no division by r: smooth at the origin.
"""

from __future__ import annotations

from functools import cache

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from numpy.polynomial import polynomial as P
from scipy.special import binom

from matml.descriptors._geometric import monomial_exponents

__all__ = [
    "zernike_indices",
    "zernike_q_coefficients",
    "zernike_radial",
    "sh_polynomial",
    "geometric_to_zernike",
    "zernike_functions",
]


@cache
def zernike_indices(max_order: int) -> tuple[tuple[int, int, int], ...]:
    """(n, l, m) of every real Zernike function in the flat order used for moments.

    The flat order is by l, then n, then m (m = 0 .. 2l, e3nn's component order): the
    block of one l is an [n_l, 2l + 1] matrix, which is what invariants couple.

    >>> zernike_indices(1)
    ((0, 0, 0), (1, 1, 0), (1, 1, 1), (1, 1, 2))
    """
    out = []
    for l in range(max_order + 1):
        for n in range(l, max_order + 1, 2):
            for m in range(2 * l + 1):
                out.append((n, l, m))
    return tuple(out)


@cache
def zernike_q_coefficients(n: int, l: int) -> np.ndarray:
    """Coefficients of Q_nl(s) in powers of s = r^2, with R_nl(r) = r^l Q_nl(r^2)."""
    if (n - l) % 2 or l > n or l < 0:
        raise ValueError(f"no Zernike radial function for n={n}, l={l}")
    k = (n - l) // 2
    beta = l + 0.5
    poly = np.zeros(1)
    # P_k^(0,b)(t) = sum_s C(k, k-s) C(k+b, s) ((t-1)/2)^s ((t+1)/2)^(k-s), t = 2s' - 1
    for s in range(k + 1):
        term = binom(k, k - s) * binom(k + beta, s)
        term = P.polymul([term], P.polypow([-1.0, 1.0], s))  # (s' - 1)^s
        term = P.polymul(term, P.polypow([0.0, 1.0], k - s))  # s'^(k-s)
        poly = P.polyadd(poly, term)
    return np.sqrt(2 * n + 3) * np.asarray(poly, dtype=np.float64)


def zernike_radial(r: jnp.ndarray, n: int, l: int) -> jnp.ndarray:
    """R_nl(r), orthonormal with weight r^2 on [0, 1].

    >>> round(float(zernike_radial(jnp.array(1.0), 0, 0)), 6)  # sqrt(3)
    1.732051
    """
    q = zernike_q_coefficients(n, l)
    s = r * r
    return r**l * sum(float(c) * s**j for j, c in enumerate(q))


def sh_polynomial(x: jnp.ndarray, lmax: int) -> jnp.ndarray:
    """r^l Y_lm(x / r) for l = 0 .. lmax (e3nn-jax, integral normalisation), [..., (lmax+1)^2]."""
    irreps = e3nn.Irreps.spherical_harmonics(lmax)
    return e3nn.spherical_harmonics(
        irreps,
        x,
        normalize=False,
        normalization="integral",
        algorithm=("recursive", "dense"),
    ).array


@cache
def _sh_samples(lmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points and r^l Y_lm at them, in float64 (one jitted e3nn call)."""
    rng = np.random.default_rng(1234)
    pts = rng.normal(size=(4 * (lmax + 1) * (lmax + 2) + 16, 3))
    with jax.enable_x64(True), jax.ensure_compile_time_eval():
        f = jax.jit(sh_polynomial, static_argnums=1)
        sh = np.asarray(f(jnp.asarray(pts, dtype=jnp.float64), lmax))
    return pts, sh


@cache
def _sh_monomial_coefficients(l: int, lmax: int) -> np.ndarray:
    """[2l+1, M_l]: S_lm(x) = sum over degree-l monomials of coeff * monomial."""
    exps = monomial_exponents(l)
    exps = exps[exps.sum(1) == l]
    pts, sh = _sh_samples(lmax)
    sh = sh[:, l * l : (l + 1) * (l + 1)]
    mono = np.prod(pts[:, None, :] ** exps[None, :, :], axis=-1)
    coef, *_ = np.linalg.lstsq(mono, sh, rcond=None)
    coef[np.abs(coef) < 1e-13] = 0.0
    return coef.T


@cache
def geometric_to_zernike(max_order: int) -> np.ndarray:
    """chi [K, M] with Zernike moments c = chi @ m for geometric moments m (float64).

    Each Z_nlm is a polynomial of degree <= N; chi holds its coefficients on the
    monomials of :func:`monomial_exponents`, so the same matrix maps geometric moments of
    any density to its Zernike moments.
    """
    exps = monomial_exponents(max_order)
    col = {tuple(e): i for i, e in enumerate(exps.tolist())}
    idx = zernike_indices(max_order)
    chi = np.zeros((len(idx), len(exps)))
    for row, (n, l, m) in enumerate(idx):
        sh_exps = monomial_exponents(l)
        sh_exps = sh_exps[sh_exps.sum(1) == l]
        sh_coef = _sh_monomial_coefficients(l, max_order)[m]
        q = zernike_q_coefficients(n, l)
        for j, qj in enumerate(q):
            # (x^2 + y^2 + z^2)^j = sum_{a+b+c=j} j!/(a!b!c!) x^2a y^2b z^2c
            for a in range(j + 1):
                for b in range(j - a + 1):
                    c = j - a - b
                    mult = binom(j, a) * binom(j - a, b)
                    for e, sc in zip(sh_exps, sh_coef, strict=True):
                        if sc == 0.0:
                            continue
                        key = (e[0] + 2 * a, e[1] + 2 * b, e[2] + 2 * c)
                        chi[row, col[key]] += qj * mult * sc
    return chi


def zernike_functions(x: jnp.ndarray, max_order: int) -> jnp.ndarray:
    """All Z_nlm(x) in the order of :func:`zernike_indices`, [..., K].

    Direct evaluation as Q_nl(r^2) S_lm(x): a polynomial, so finite gradients at x = 0.
    """
    idx = zernike_indices(max_order)
    sh = sh_polynomial(x, max_order)
    s = jnp.sum(x * x, axis=-1)
    pairs = sorted({(n, l) for n, l, _ in idx}, key=lambda t: (t[1], t[0]))
    qcols = {p: i for i, p in enumerate(pairs)}
    kmax = max_order // 2
    spow = jnp.stack([s**j for j in range(kmax + 1)], axis=-1)
    qmat = np.zeros((kmax + 1, len(pairs)))
    for i, (n, l) in enumerate(pairs):
        q = zernike_q_coefficients(n, l)
        qmat[: len(q), i] = q
    qv = spow @ jnp.asarray(qmat, dtype=x.dtype)
    qi = np.array([qcols[(n, l)] for n, l, _ in idx])
    si = np.array([l * l + m for _, l, m in idx])
    return qv[..., qi] * sh[..., si]
