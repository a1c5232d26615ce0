"""A data set of tensor properties whose truth is known: Cu-Au clusters with EMT
energies and forces, a dipole from environment-dependent point charges, and a per-atom
symmetric 3x3 tensor that is an analytic function of the neighbour vectors.

For atom i with neighbours j (distance ``r_ij``, unit vector ``u_ij``) and the smooth
weight ``w(r) = (1 - (r / r_c)^2)^2`` for ``r < r_c`` (``r_c`` = :data:`R_C`):

- coordination ``c_i = sum_j w(r_ij)``;
- charge ``q_i = 0.2 tanh((c_i - 6) / 2) + 0.1 s_i`` (``s_i`` = +1 for Au, -1 for Cu),
  made neutral per cluster by subtracting the mean;
- dipole ``d = sum_i q_i (r_i - centroid)`` (e Å), under ``REF_dipole`` in ``info``;
- tensor ``chi_i = sum_j w(r_ij) u_ij u_ij^T + 0.5 (1 + 0.2 s_i) I``, under
  ``REF_chi`` in ``arrays`` (9 columns per atom).

Both are smooth, rotate as a vector and as a rank-2 tensor, and depend on the
environment only within ``r_c``; a model with a cutoff at least ``r_c`` can learn them
exactly. ``examples/tensors.py`` trains the heads on them.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

from matml.demo.emt_copper import label

__all__ = ["R_C", "make_tensor_clusters", "true_charges", "true_dipole", "true_chi"]

R_C = 3.5  # Å


def _neighbours(atoms: Atoms):
    d = atoms.positions[None, :, :] - atoms.positions[:, None, :]  # [i, j, 3] j - i
    r = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(r, np.inf)
    x = np.clip(r / R_C, 0.0, 1.0)
    w = np.where(r < R_C, (1 - x**2) ** 2, 0.0)
    return d / r[..., None], w


def _sign(atoms: Atoms) -> np.ndarray:
    return np.where(np.array(atoms.get_chemical_symbols()) == "Au", 1.0, -1.0)


def true_charges(atoms: Atoms) -> np.ndarray:
    """Neutral per-atom charges ``q_i`` (e)."""
    _, w = _neighbours(atoms)
    q = 0.2 * np.tanh((w.sum(axis=1) - 6.0) / 2.0) + 0.1 * _sign(atoms)
    return q - q.mean()


def true_dipole(atoms: Atoms) -> np.ndarray:
    """``sum_i q_i (r_i - centroid)`` (e Å)."""
    r = atoms.positions - atoms.positions.mean(axis=0)
    return true_charges(atoms) @ r


def true_chi(atoms: Atoms) -> np.ndarray:
    """Per-atom symmetric tensors ``[n, 3, 3]``."""
    u, w = _neighbours(atoms)
    chi = np.einsum("ij,ijk,ijl->ikl", w, u, u)
    iso = 0.5 * (1.0 + 0.2 * _sign(atoms))
    return chi + iso[:, None, None] * np.eye(3)


def make_tensor_clusters(n: int = 200, seed: int = 0) -> list[Atoms]:
    """``n`` rattled Cu-Au clusters of 8 to 24 atoms cut from an fcc crystal, with
    EMT energy and forces, ``REF_dipole`` and ``REF_chi``."""
    rng = np.random.default_rng(seed)
    crystal = bulk("Cu", "fcc", a=3.7, cubic=True) * (3, 3, 3)
    centre = crystal.positions.mean(axis=0)
    out = []
    for _ in range(n):
        size = int(rng.integers(8, 25))
        origin = centre + rng.normal(0, 1.0, 3)
        order = np.argsort(np.linalg.norm(crystal.positions - origin, axis=1))
        a = crystal[np.sort(order[:size])]
        a.pbc = False
        a.cell = np.zeros((3, 3))
        a.positions += rng.normal(0, 0.12, a.positions.shape)
        au = rng.random(size) < rng.uniform(0.1, 0.6)
        a.symbols[au] = "Au"
        a = label(a)
        a.info["REF_dipole"] = true_dipole(a)
        a.arrays["REF_chi"] = true_chi(a).reshape(len(a), 9)
        out.append(a)
    return out
