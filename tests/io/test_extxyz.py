"""Extended XYZ: explicit key names, ASE's calculator keys, round trips."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from matml import keys
from matml.io import read, read_extxyz, write_extxyz


@pytest.fixture(scope="module")
def frames():
    out = []
    rng = np.random.default_rng(0)
    for k in range(3):
        a = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, k + 1))
        a.rattle(0.05, seed=k)
        a.calc = EMT()
        a.info[keys.ENERGY] = a.get_potential_energy()
        a.arrays[keys.FORCES] = a.get_forces()
        a.info[keys.STRESS] = a.get_stress()
        a.info[keys.GROUP] = f"rattled {k}"
        a.arrays["tag_weights"] = rng.random(len(a))
        a.calc = None
        out.append(a)
    return out


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.calc is None
        np.testing.assert_allclose(g.positions, w.positions, atol=1e-7)
        np.testing.assert_allclose(g.cell[:], w.cell[:], atol=1e-7)
        assert g.info[keys.ENERGY] == pytest.approx(w.info[keys.ENERGY], abs=1e-10)
        np.testing.assert_allclose(
            g.arrays[keys.FORCES], w.arrays[keys.FORCES], atol=1e-7
        )
        np.testing.assert_allclose(g.info[keys.STRESS], w.info[keys.STRESS], atol=1e-10)


def test_round_trip_default_keys(tmp_path, frames):
    path = tmp_path / "train.xyz"
    write_extxyz(path, frames)
    text = path.read_text()
    assert "REF_energy=" in text and "REF_forces:R:3" in text and "REF_stress=" in text
    got = read(path)
    _assert_same(got, frames)
    assert got[2].info[keys.GROUP] == "rattled 2"
    np.testing.assert_allclose(
        got[1].arrays["tag_weights"], frames[1].arrays["tag_weights"]
    )
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_round_trip_custom_keys(tmp_path, frames):
    path = tmp_path / "custom.extxyz"
    names = dict(energy_key="dft_E", forces_key="dft_F", stress_key="dft_S")
    write_extxyz(path, frames, **names)
    _assert_same(read_extxyz(path, **names), frames)
    # with the default names nothing is found
    plain = read_extxyz(path)
    assert keys.ENERGY not in plain[0].info and keys.FORCES not in plain[0].arrays


def test_plain_keys_through_ase_calculator(tmp_path, frames):
    """Files written by ASE with a calculator hold plain energy/forces/stress keys."""
    path = tmp_path / "ase.xyz"
    with_calc = []
    for a in frames:
        b = a.copy()
        for name in (keys.ENERGY, keys.STRESS):
            del b.info[name]
        del b.arrays[keys.FORCES]
        b.calc = EMT()
        b.get_stress()
        with_calc.append(b)
    ase.io.write(path, with_calc, format="extxyz")
    got = read(path, energy_key="energy", forces_key="forces", stress_key="stress")
    _assert_same(got, frames)
    # with the default REF_* names the plain values are not used, and a warning says so
    with pytest.warns(
        UserWarning,
        match="pass energy_key='energy', forces_key='forces', stress_key='stress' to use",
    ):
        plain = read(path)
    assert keys.ENERGY not in plain[0].info and plain[0].calc is None
    # one frame by index
    last = read(
        path, index=-1, energy_key="energy", forces_key="forces", stress_key=None
    )
    assert len(last) == 1 and keys.STRESS not in last[0].info
    assert last[0].info[keys.ENERGY] == pytest.approx(frames[-1].info[keys.ENERGY])


def test_other_ase_format(tmp_path, frames):
    path = tmp_path / "POSCAR"
    ase.io.write(path, frames[0], format="vasp")
    got = read(path)
    assert len(got) == 1 and len(got[0]) == len(frames[0])
    np.testing.assert_allclose(got[0].positions, frames[0].positions, atol=1e-6)


def test_mlearn_index(mlearn_dir):
    got = read(mlearn_dir / "Cu" / "test.json", index="2:5")
    assert len(got) == 3
