"""Reusable physics checks for any matml potential (as e3nn-jax ships its own).

Every model's tests call these: finite-difference forces and stress, invariance to
rotations, reflections, translations and permutations, periodic-image consistency, and
padding invariance. They work on :class:`ase.Atoms` and a
:class:`~matml.potential.Potential`, in float64 (enable ``jax_enable_x64`` first).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from matml.data import EDGE_MULTIPLE, NODE_MULTIPLE, Structure, collate, round_up

__all__ = [
    "compute",
    "finite_difference_forces",
    "finite_difference_stress",
    "random_rotation",
    "assert_invariant",
    "relative_error",
]


def compute(potential, atoms: Atoms, *, pad_nodes: int = 0, pad_edges: int = 0):
    """Energy, forces [n,3], stress [3,3] and per-atom energies of one structure, in
    the potential's dtype, with ``pad_nodes`` / ``pad_edges`` extra padding."""
    import jax
    from flax import nnx

    from matml.potential import predict_fn

    s = Structure.from_atoms(atoms, potential.cutoff, potential.species)
    graph = collate(
        [s],
        round_up(s.n_node + 1, NODE_MULTIPLE) + pad_nodes,
        round_up(s.n_edge, EDGE_MULTIPLE) + pad_edges,
        2,
    ).cast(potential.dtype)
    graphdef, state = nnx.split(potential)
    out = jax.device_get(predict_fn(graphdef, True, potential.dtype)(state, graph))
    n = len(atoms)
    return (
        float(out.energy[0]),
        np.asarray(out.forces[:n]),
        np.asarray(out.stress[0]),
        np.asarray(out.node_energies[:n]),
    )


def _energy(potential, atoms):
    return compute(potential, atoms)[0]


def finite_difference_forces(potential, atoms: Atoms, h: float = 1e-4) -> np.ndarray:
    """Central differences ``-(E(x+h) - E(x-h)) / 2h`` for every coordinate."""
    out = np.zeros((len(atoms), 3))
    for i in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            out[i, k] = -(_energy(potential, plus) - _energy(potential, minus)) / (
                2 * h
            )
    return out


def finite_difference_stress(potential, atoms: Atoms, h: float = 1e-5) -> np.ndarray:
    """Central differences of ``E`` under symmetric strains: ``(1/V) dE/d(strain)``."""
    vol = atoms.get_volume()
    out = np.zeros((3, 3))
    for i in range(3):
        for j in range(i, 3):
            energies = []
            for sign in (1, -1):
                eps = np.zeros((3, 3))
                eps[i, j] = eps[j, i] = sign * h
                a = atoms.copy()
                a.set_cell(a.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
                energies.append(_energy(potential, a))
            d = (energies[0] - energies[1]) / (2 * h)
            # d/dh of E(eps_ij = eps_ji = h) counts sigma_ij twice off the diagonal
            out[i, j] = out[j, i] = d / vol / (1 if i == j else 2)
    return out


def random_rotation(seed: int = 0, reflect: bool = False) -> np.ndarray:
    """A random 3x3 rotation matrix (times -1 if ``reflect``)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return -q if reflect else q


def relative_error(a, b) -> float:
    """``max|a - b| / max|b|`` (0 when both vanish)."""
    a, b = np.asarray(a), np.asarray(b)
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())


def assert_invariant(potential, atoms: Atoms, *, tol: float = 1e-10, seed: int = 0):
    """Energy unchanged, forces and stress co-rotated, under a rotation (with and
    without inversion), a translation and a permutation of the atoms."""
    e, f, s, _ = compute(potential, atoms)
    rng = np.random.default_rng(seed)
    for reflect in (False, True):
        rot = random_rotation(seed, reflect)
        a = atoms.copy()
        a.positions = a.positions @ rot.T
        a.set_cell(a.cell[:] @ rot.T, scale_atoms=False)
        e2, f2, s2, _ = compute(potential, a)
        assert abs(e2 - e) <= tol * max(1.0, abs(e)), (e, e2, "rotation")
        np.testing.assert_allclose(f2, f @ rot.T, atol=tol * max(1.0, np.abs(f).max()))
        np.testing.assert_allclose(
            s2, rot @ s @ rot.T, atol=tol * max(1.0, np.abs(s).max())
        )
    a = atoms.copy()
    a.positions += rng.normal(size=3) * 3.0
    e2, f2, _, _ = compute(potential, a)
    assert abs(e2 - e) <= tol * max(1.0, abs(e)), (e, e2, "translation")
    np.testing.assert_allclose(f2, f, atol=tol * max(1.0, np.abs(f).max()))
    perm = rng.permutation(len(atoms))
    e2, f2, _, _ = compute(potential, atoms[perm])
    assert abs(e2 - e) <= tol * max(1.0, abs(e)), (e, e2, "permutation")
    np.testing.assert_allclose(f2, f[perm], atol=tol * max(1.0, np.abs(f).max()))
