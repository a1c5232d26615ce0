"""The mlearn reader: counts of the data README, targets and agreement with pymatgen."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matml import keys
from matml.io import read, read_mlearn, virial_to_stress

# (structures, atoms) from shared/data/mlearn/README.md
COUNTS = {
    ("Li", "training"): (241, 11576),
    ("Li", "test"): (29, 1320),
    ("Mo", "training"): (194, 10087),
    ("Mo", "test"): (23, 1189),
    ("Si", "training"): (214, 13233),
    ("Si", "test"): (25, 1525),
    ("Cu", "test"): (31, 3178),
    ("Ni", "test"): (31, 3158),
}


@pytest.mark.parametrize(("element", "split"), sorted(COUNTS))
def test_counts_match_readme(mlearn_dir, element, split):
    atoms = read_mlearn(mlearn_dir / element / f"{split}.json")
    n_struct, n_atoms = COUNTS[(element, split)]
    assert len(atoms) == n_struct
    assert sum(len(a) for a in atoms) == n_atoms
    for a in atoms:
        assert set(a.get_chemical_symbols()) == {element}
        assert a.pbc.all()
        assert np.isfinite(a.info[keys.ENERGY])
        assert a.arrays[keys.FORCES].shape == (len(a), 3)
        assert a.info[keys.STRESS].shape == (6,)
        assert a.calc is None


def test_targets_and_info(mlearn_dir):
    path = mlearn_dir / "Si" / "test.json"
    raw = json.loads(path.read_text())
    atoms = read(path)  # dispatch by suffix
    for k in (0, 7, 24):
        a, e = atoms[k], raw[k]
        assert a.info[keys.ENERGY] == e["outputs"]["energy"]
        np.testing.assert_array_equal(a.arrays[keys.FORCES], e["outputs"]["forces"])
        assert a.info[keys.GROUP] == e["group"]
        assert a.info["description"] == e["description"]
        # kBar -> eV/Å^3, VASP sign -> ASE sign: xx component
        xx = -e["outputs"]["virial_stress"][0] / 1602.1766208
        assert a.info[keys.STRESS][0] == pytest.approx(xx, rel=1e-12)


def test_agrees_with_pymatgen(mlearn_dir):
    from pymatgen.core import Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    for element, split, picks in (
        ("Mo", "test", (0, 11, 22)),
        ("Si", "training", (0,)),
    ):
        path = mlearn_dir / element / f"{split}.json"
        raw = json.loads(path.read_text())
        atoms = read_mlearn(path)
        for k in picks:
            ref = AseAtomsAdaptor.get_atoms(Structure.from_dict(raw[k]["structure"]))
            np.testing.assert_allclose(atoms[k].cell[:], ref.cell[:], atol=1e-12)
            np.testing.assert_allclose(atoms[k].positions, ref.positions, atol=1e-10)
            assert atoms[k].get_chemical_symbols() == ref.get_chemical_symbols()
    assert abs(atoms[0].cell.angles() - 90).max() > 10  # a triclinic cell was checked


def test_virial_to_stress_order():
    # VASP order xx yy zz xy yz zx -> ASE xx yy zz yz xz xy, sign flipped
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) * 1602.1766208
    np.testing.assert_allclose(virial_to_stress(v), [-1, -2, -3, -5, -6, -4])
    swapped = ((0, 1), (0, 2), (1, 2))  # xy xz yz (Mo, Cu, Ni files)
    np.testing.assert_allclose(virial_to_stress(v, swapped), [-1, -2, -3, -6, -5, -4])


def test_order_per_element(mlearn_dir, tmp_path):
    """The off-diagonal order follows the entry's element; unknown ones get VASP's."""
    entry = json.loads((mlearn_dir / "Mo" / "test.json").read_text())[0]
    entry["outputs"]["virial_stress"] = [0, 0, 0, 1602.1766208, 2 * 1602.1766208, 0]
    for element, want in (
        ("Mo", [0, -2, -1]),
        ("Si", [-2, 0, -1]),
        ("Ge", [-2, 0, -1]),
    ):
        entry["element"] = element
        path = tmp_path / f"{element}.json"
        path.write_text(json.dumps([entry]))
        # Voigt yz, xz, xy
        np.testing.assert_allclose(read(path)[0].info[keys.STRESS][3:], want)
