"""The stress sign and order of the mlearn reader, verified by calculation.

ASE's stress is ``(1/V) dE/d(strain)``, so two cells a, b related by a small strain
``de`` satisfy ``E_b - E_a ~= <V sigma> : de``. The first test checks that formula (and
its sign) with ASE's EMT calculator; the second checks that the stresses the reader
produces satisfy it along the Elastic group of every mlearn file (normal strains fix
the sign, shear strains the order of the off-diagonal components).
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from matml import keys
from matml.io import read_mlearn


def _voigt_to_matrix(s):
    m = np.empty((3, 3))
    for value, (i, j) in zip(s, keys.VOIGT_ORDER, strict=True):
        m[i, j] = m[j, i] = value
    return m


def _pair_terms(a, b):
    """(E_b - E_a, <V sigma> : de) for two cells related by a homogeneous strain."""
    f = np.linalg.solve(a.cell[:], b.cell[:]).T  # b.cell = a.cell @ f.T
    de = 0.5 * (f + f.T) - np.eye(3)
    vs = 0.5 * (
        a.get_volume() * _voigt_to_matrix(a.info[keys.STRESS])
        + b.get_volume() * _voigt_to_matrix(b.info[keys.STRESS])
    )
    return b.info[keys.ENERGY] - a.info[keys.ENERGY], float(np.sum(vs * de)), de


def test_formula_sign_under_emt():
    from ase.build import bulk
    from ase.calculators.emt import EMT

    base = bulk("Cu", "fcc", a=3.7, cubic=True)  # stretched: tensile stress > 0
    eps = 1e-3 * np.array([[4.0, 3.0, 0.0], [3.0, -2.0, 1.0], [0.0, 1.0, 2.0]])
    cells = []
    for t in (0.0, 0.25):
        a = base.copy()
        a.set_cell(base.cell[:] @ (np.eye(3) + t * eps), scale_atoms=True)
        a.calc = EMT()
        a.info[keys.ENERGY] = a.get_potential_energy()
        a.info[keys.STRESS] = a.get_stress(voigt=True)
        cells.append(a)
    assert cells[0].info[keys.STRESS][0] > 0  # ASE: tensile positive
    de_e, pred, _ = _pair_terms(*cells)
    # agreement to O(strain) (prestressed cell); the opposite sign would give -1
    assert pred == pytest.approx(de_e, rel=5e-3)


def _elastic_pairs(atoms):
    modes = defaultdict(list)
    for a in atoms:
        m = re.match(r"(.*mode \d+), strain (\S+)", a.info.get("description", ""))
        if a.info.get(keys.GROUP) == "Elastic" and m:
            modes[m.group(1)].append((float(m.group(2)), a))
    rows = []
    for members in modes.values():
        members.sort(key=lambda t: t[0])
        for (_, a), (_, b) in zip(members[:-1], members[1:], strict=True):
            de_e, pred, de = _pair_terms(a, b)
            shear = np.abs(de - np.diag(np.diag(de))).max() > 1e-4
            rows.append((de_e, pred, shear))
    return np.array(rows)


# Li shears are tiny (0.4 kBar) and non-monotonic in its 2-atom cell, so for Li only
# the normal strains are asserted; the shear order there rests on which component
# is non-zero (checked in test_shear_component_order).
@pytest.mark.parametrize(
    ("element", "splits"),
    [("Si", ("training", "test")), ("Mo", ("training", "test")), ("Li", ("training",))],
)
def test_elastic_energies_match_stress(mlearn_dir, element, splits):
    atoms = [a for s in splits for a in read_mlearn(mlearn_dir / element / f"{s}.json")]
    rows = _elastic_pairs(atoms)
    normal = rows[:, 2] == 0
    for sel in (normal, ~normal) if element != "Li" else (normal,):
        d_e, pred = rows[sel, 0], rows[sel, 1]
        slope = np.dot(pred, d_e) / np.dot(pred, pred)
        corr = np.corrcoef(pred, d_e)[0, 1]
        assert slope == pytest.approx(1.0, abs=0.08), (element, slope)
        assert corr > 0.97, (element, corr)


# Six Li entries (shear +-0.005 of the 2-atom cell) carry a shear stress of 0.94 kBar
# whose sign contradicts both their strain and the +-0.01 entries (whose energies fit a
# positive shear modulus): a quirk of the data, listed here so that the test notices
# any other disagreement.
LI_QUIRKS = {
    f"Li 1x1x1 cell, mode {m}, strain {s}"
    for m in (4, 5, 6)
    for s in ("-0.005", "0.005")
}


@pytest.mark.parametrize(
    ("element", "split"),
    [
        ("Si", "training"),
        ("Si", "test"),
        ("Li", "training"),
        ("Li", "test"),
        ("Mo", "training"),
        ("Mo", "test"),
        ("Cu", "test"),
        ("Ni", "test"),
    ],
)
def test_shear_component_order(mlearn_dir, element, split):
    """A sheared cell's largest off-diagonal stress sits on the sheared component,
    with the sign of the shear (ASE: tensile/shear stress has the strain's sign)."""
    voigt_pairs = [tuple(sorted(p)) for p in keys.VOIGT_ORDER[3:]]
    n, bad = 0, set()
    for a in read_mlearn(mlearn_dir / element / f"{split}.json"):
        cell = a.cell[:]
        off = cell - np.diag(np.diag(cell))  # these cells are diagonal but one entry
        if a.info.get(keys.GROUP) != "Elastic" or np.abs(off).max() < 1e-3:
            continue
        i, j = np.unravel_index(np.argmax(np.abs(off)), off.shape)
        pair = tuple(sorted((int(i), int(j))))
        s = a.info[keys.STRESS][3:]
        n += 1
        if voigt_pairs[int(np.argmax(np.abs(s)))] != pair:
            bad.add(a.info["description"])
        elif np.sign(s[voigt_pairs.index(pair)]) != np.sign(off[i, j]):
            bad.add(a.info["description"])
    assert n >= 2
    assert bad <= (LI_QUIRKS if element == "Li" else set())
