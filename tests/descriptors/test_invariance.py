"""Invariance to rotation, reflection, translation and permutation (float64, 1e-10)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from matml.descriptors import MomentInvariants


@pytest.fixture(scope="module")
def desc():
    return MomentInvariants(cutoff=3.5, max_order=4, max_degree=4)


@pytest.fixture(scope="module")
def cluster():
    rng = np.random.default_rng(3)
    pos = rng.uniform(-1.8, 1.8, (9, 3))
    return Atoms("Si9", positions=pos)


def _close(a, b, what: str = ""):
    scale = np.abs(a).max()
    assert scale > 0, f"{what}: all features vanish"
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * scale, err_msg=what)


def _variants(atoms, seed):
    rot = Rotation.random(random_state=seed).as_matrix()
    out = {}
    a = atoms.copy()
    a.positions = atoms.positions @ rot.T
    if atoms.pbc.any():
        a.cell = atoms.cell[:] @ rot.T
    out["rotation"] = (a, np.arange(len(atoms)))
    a = atoms.copy()
    a.positions = atoms.positions + np.array([0.7, -1.3, 2.9])
    if atoms.pbc.any():
        a.wrap()
    out["translation"] = (a, np.arange(len(atoms)))
    perm = np.random.default_rng(seed).permutation(len(atoms))
    out["permutation"] = (atoms[perm], perm)
    a = atoms.copy()
    a.positions = atoms.positions * np.array([-1.0, 1.0, 1.0])  # mirror x -> -x
    if atoms.pbc.any():
        a.cell = atoms.cell[:] * np.array([-1.0, 1.0, 1.0])
    out["reflection"] = (a, np.arange(len(atoms)))
    inv = atoms.copy()
    inv.positions = -atoms.positions
    if atoms.pbc.any():
        inv.cell = -atoms.cell[:]
    out["inversion"] = (inv, np.arange(len(atoms)))
    return out


@pytest.mark.parametrize(
    "kind", ["rotation", "translation", "permutation", "reflection", "inversion"]
)
def test_cluster_invariance(desc, cluster, kind):
    ref = desc(cluster)
    assert ref.shape == (9, desc.n_features)
    atoms, perm = _variants(cluster, 11)[kind]
    _close(desc(atoms), ref[perm], kind)


def test_periodic_invariance(desc):
    si = bulk("Si", "diamond", a=5.43) * (2, 1, 1)
    si.rattle(0.15, seed=2)
    ref = desc(si)
    for kind, (atoms, perm) in _variants(si, 5).items():
        _close(desc(atoms), ref[perm], kind)


@pytest.mark.parametrize("radial", ["bessel", "chebyshev"])
def test_other_radial_bases_are_invariant(cluster, radial):
    d = MomentInvariants(cutoff=3.5, max_order=3, max_degree=3, radial=radial)
    ref = d(cluster)
    for atoms, perm in _variants(cluster, 7).values():
        _close(d(atoms), ref[perm])


def test_species_channels_and_gaussian_density_are_invariant():
    rng = np.random.default_rng(4)
    atoms = Atoms("Si4O4", positions=rng.uniform(-1.5, 1.5, (8, 3)))
    d = MomentInvariants(
        cutoff=3.5, max_order=3, max_degree=3, species=("O", "Si"), density="gaussian"
    )
    ref = d(atoms)
    assert ref.shape == (8, 2 * d.tables.n_features)
    for atoms2, perm in _variants(atoms, 9).values():
        _close(d(atoms2), ref[perm])
    w = MomentInvariants(
        cutoff=3.5, max_order=3, max_degree=3, weights={"O": 8.0, "Si": 14.0}
    )
    assert w(atoms).shape == (8, w.tables.n_features)
    assert not np.allclose(w(atoms), MomentInvariants(3.5, 3, 3)(atoms))
