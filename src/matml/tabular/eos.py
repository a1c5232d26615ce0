"""Equations of state: polynomial fits (degree 2-4) and third-order Birch-Murnaghan.

Energies in eV and volumes in Å^3 (per cell or per atom, as long as both match);
bulk moduli are returned in GPa. The Birch-Murnaghan energy is a cubic polynomial in
``x = V^(-2/3)``, so its least-squares fit is first solved exactly as that cubic and
then polished by nonlinear least squares in (E0, V0, B0, B0').
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from matml.errors import InputError
from matml.keys import EV_PER_A3_TO_GPA

__all__ = [
    "EV_PER_A3_TO_GPA",
    "EOSFit",
    "birch_murnaghan",
    "fit_birch_murnaghan",
    "fit_polynomial",
    "energies_from_calculator",
]


@dataclass
class EOSFit:
    """Result of one EOS fit: V0 (Å^3), E0 (eV), B0 (GPa), B0' (BM only), RMS (eV)."""

    kind: str
    v0: float
    e0: float
    b0_gpa: float
    b1: float | None
    rms_ev: float
    bracketed: bool
    coefficients: list[float]

    def as_dict(self) -> dict:
        return asdict(self)

    def energy(self, volumes) -> np.ndarray:
        """Energy of the fitted curve at ``volumes``."""
        v = np.asarray(volumes, float)
        if self.kind == "birch-murnaghan":
            return birch_murnaghan(
                v, self.e0, self.v0, self.b0_gpa / EV_PER_A3_TO_GPA, self.b1
            )
        return np.polyval(self.coefficients, v)


def birch_murnaghan(volume, e0, v0, b0, b1):
    """Third-order Birch-Murnaghan energy (``b0`` in eV/Å^3).

    >>> float(birch_murnaghan(10.0, -1.0, 10.0, 0.5, 4.0))
    -1.0
    """
    eta = (v0 / np.asarray(volume, float)) ** (2.0 / 3.0) - 1.0
    return e0 + 9.0 * v0 * b0 / 16.0 * (
        eta**3 * b1 + eta**2 * (6.0 - 4.0 * (eta + 1.0))
    )


def _check(volumes, energies, need: int, what: str):
    v = np.asarray(volumes, float)
    e = np.asarray(energies, float)
    if v.shape != e.shape or v.ndim != 1:
        raise InputError(f"{what}: volumes and energies must be 1-D of equal length")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(e))):
        raise InputError(f"{what}: volumes and energies must be finite numbers")
    if np.any(v <= 0):
        raise InputError(f"{what}: volumes must be positive")
    if len(np.unique(v)) < need:
        raise InputError(
            f"{what}: needs at least {need} distinct volumes, got {len(np.unique(v))}"
        )
    return v, e


def fit_polynomial(volumes, energies, degree: int = 3) -> EOSFit:
    """Fit ``E(V)`` by a polynomial; V0 at its minimum, ``B0 = V0 E''(V0)``.

    >>> v = np.linspace(9, 11, 7)
    >>> fit = fit_polynomial(v, 0.5 * (v - 10.0) ** 2, degree=2)
    >>> round(fit.v0, 6), round(fit.b0_gpa / EV_PER_A3_TO_GPA, 6)
    (10.0, 10.0)
    """
    if degree < 2:
        raise InputError(
            f"polynomial degree must be at least 2, got {degree}", field="degree"
        )
    v, e = _check(volumes, energies, degree + 1, f"polynomial fit of degree {degree}")
    shift = e.mean()
    coef = np.polyfit(v, e - shift, degree)
    d1, d2 = np.polyder(coef), np.polyder(coef, 2)
    roots = np.roots(d1)
    roots = roots[np.abs(roots.imag) < 1e-9 * max(1.0, v.mean())].real
    minima = roots[(np.polyval(d2, roots) > 0) & (roots > 0)]
    bracketed = bool(np.any((minima >= v.min()) & (minima <= v.max())))
    if len(minima) == 0:
        raise InputError(
            f"polynomial of degree {degree} has no minimum (is E(V) convex?)"
        )
    # the minimum nearest the data
    v0 = float(minima[np.argmin(np.abs(minima - v.mean()))])
    b0 = v0 * float(np.polyval(d2, v0))
    rms = float(np.sqrt(np.mean((np.polyval(coef, v) - (e - shift)) ** 2)))
    full = coef.copy()
    full[-1] += shift
    return EOSFit(
        f"poly{degree}",
        v0,
        float(np.polyval(full, v0)),
        b0 * EV_PER_A3_TO_GPA,
        None,
        rms,
        bracketed,
        full.tolist(),
    )


def fit_birch_murnaghan(volumes, energies) -> EOSFit:
    """Least-squares third-order Birch-Murnaghan fit.

    >>> v = np.linspace(9, 11, 7)
    >>> e = birch_murnaghan(v, -3.0, 10.0, 0.6, 4.5)
    >>> fit = fit_birch_murnaghan(v, e)
    >>> round(fit.v0, 6), round(fit.b0_gpa / EV_PER_A3_TO_GPA, 6), round(fit.b1, 4)
    (10.0, 0.6, 4.5)
    """
    from scipy.optimize import least_squares

    v, e = _check(volumes, energies, 5, "Birch-Murnaghan fit")
    shift = e.mean()
    x = v ** (-2.0 / 3.0)
    # E = a + b x + c x^2 + d x^3 (exact BM3 form); minimum where dE/dx = 0
    d, c, b, a = np.polyfit(x, e - shift, 3)
    disc = c * c - 3 * b * d
    guess = None
    if disc >= 0 and d != 0:
        for root in ((-c + np.sqrt(disc)) / (3 * d), (-c - np.sqrt(disc)) / (3 * d)):
            if root > 0 and 2 * c + 6 * d * root > 0:
                v0 = root ** (-1.5)
                # B0 = V d2E/dV2 at V0, via x(V): d2E/dV2 = E''(x) x'^2 (E'(x)=0)
                b0 = (
                    v0
                    * (2 * c + 6 * d * root)
                    * ((2.0 / 3.0) * v0 ** (-5.0 / 3.0)) ** 2
                )
                guess = (a + b * root + c * root**2 + d * root**3, v0, b0, 4.0)
    if guess is None:
        q = fit_polynomial(v, e - shift, 2)
        guess = (q.e0, q.v0, max(q.b0_gpa / EV_PER_A3_TO_GPA, 1e-4), 4.0)

    def residual(p):
        return birch_murnaghan(v, p[0], p[1], p[2], p[3]) - (e - shift)

    sol = least_squares(
        residual,
        np.asarray(guess, float),
        x_scale="jac",
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    e0, v0, b0, b1 = sol.x
    if not (np.isfinite(v0) and v0 > 0 and b0 > 0):
        raise InputError("Birch-Murnaghan fit failed: no minimum near the data")
    rms = float(np.sqrt(np.mean(sol.fun**2)))
    bracketed = bool(v.min() <= v0 <= v.max())
    return EOSFit(
        "birch-murnaghan",
        float(v0),
        float(e0 + shift),
        float(b0 * EV_PER_A3_TO_GPA),
        float(b1),
        rms,
        bracketed,
        [],
    )


def energies_from_calculator(atoms, calculator, strain: float = 0.06, points: int = 9):
    """Energies of ``atoms`` scaled isotropically to volumes ``V (1 + s)``, ``|s| <= strain``.

    Args:
        atoms: the structure (``ase.Atoms`` with a full 3D cell).
        calculator: any ASE calculator (``ase.calculators.calculator.Calculator``):
            EMT, a DFT code's, or :class:`matml.calculator.MatmlCalculator`.
        strain: the largest relative volume change.
        points: the number of volumes (at least 5).

    Returns:
        (volumes Å^3, energies eV), both for the whole cell.
    """
    if points < 5:
        raise InputError(f"EOS needs at least 5 points, got {points}", field="points")
    if not 0.0 < strain < 1.0:
        raise InputError(
            f"volume strain must be between 0 and 1, got {strain}", field="strain"
        )
    volumes, energies = [], []
    for s in np.linspace(-strain, strain, points):
        a = atoms.copy()
        a.set_cell(a.cell[:] * (1.0 + s) ** (1.0 / 3.0), scale_atoms=True)
        a.calc = calculator
        volumes.append(a.get_volume())
        energies.append(a.get_potential_energy())
    return np.asarray(volumes), np.asarray(energies)
