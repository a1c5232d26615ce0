"""Bad input: each case gives one InputError line naming file, entry and field."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from matml import keys
from matml.errors import InputError
from matml.io import read, validate_structures, write_extxyz


def _good(n=3):
    out = []
    for k in range(n):
        a = bulk("Si", "diamond", a=5.43, cubic=True)
        a.info[keys.ENERGY] = -43.0 - k
        a.arrays[keys.FORCES] = np.zeros((len(a), 3))
        a.info[keys.STRESS] = np.zeros(6)
        out.append(a)
    return out


def _raises(atoms_list, match, *, field, entry=1, **kw):
    with pytest.raises(InputError, match=match) as info:
        validate_structures(atoms_list, file="data.xyz", **kw)
    err = info.value
    assert (err.file, err.entry, err.field) == ("data.xyz", entry, field)
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"data.xyz: entry {entry}: field {field}: ")
    return text


def test_good_structures_pass(mlearn_dir):
    frames = _good()
    assert validate_structures(frames, require=TARGETS_ALL) is frames
    path = mlearn_dir / "Si" / "test.json"
    validate_structures(read(path), file=path, require=TARGETS_ALL)


TARGETS_ALL = (keys.ENERGY, keys.FORCES, keys.STRESS)


@pytest.mark.parametrize(
    ("field", "where", "value", "match"),
    [
        ("energy", "info", np.nan, "NaN"),
        ("energy", "info", np.inf, "Inf"),
        ("forces", "arrays", "nan-row-5", r"NaN value \(at \[5, 1\]\)"),
        (
            "stress",
            "info",
            np.array([0, 0, np.inf, 0, 0, 0.0]),
            r"Inf value \(at \[2\]\)",
        ),
        ("stress", "info", np.zeros(5), r"shape \(5,\), expected \(6,\)"),
    ],
)
def test_non_finite_targets(field, where, value, match):
    frames = _good()
    if isinstance(value, str):
        value = np.zeros((8, 3))
        value[5, 1] = np.nan
    getattr(frames[1], where)[field] = value
    _raises(frames, match, field=field)


def test_nan_position():
    frames = _good()
    frames[1].positions[3, 2] = np.nan
    _raises(frames, "NaN or Inf in the position of atom 3", field="positions")


def test_missing_required_forces():
    frames = _good()
    del frames[1].arrays[keys.FORCES]
    _raises(
        frames, r'missing, but required \(atoms.arrays\["forces"\]\)', field="forces"
    )
    validate_structures(frames, require=("energy",))  # not required: fine


def test_singular_cell():
    frames = _good()
    frames[1].cell = [[5.43, 0, 0], [10.86, 0, 0], [0, 0, 5.43]]
    _raises(frames, "singular cell", field="cell")
    frames[1].cell = [[5.43, 0, 0], [0, 0, 0], [0, 0, 5.43]]
    _raises(
        frames, "singular cell: periodic axis 1 has a zero cell vector", field="cell"
    )
    # a zero vector on a non-periodic axis is fine
    frames[1].pbc = [True, False, True]
    validate_structures(frames)


def test_degenerate_cell():
    frames = _good()
    frames[1].cell = [[5.43, 0, 0], [0, 5.43, 0], [2, 2, 0.05]]
    _raises(frames, "height along periodic axis 2 is 0.05 Å", field="cell")


def test_atoms_too_close():
    frames = _good()
    frames[1].positions[4] = frames[1].positions[0] + [0.03, 0.04, 0]
    text = _raises(frames, "atoms 0 and 4 are 0.05 Å apart", field="positions")
    assert "< 0.1 Å" in text
    frames[1].positions[4] += [0.2, 0, 0]
    validate_structures(frames)  # 0.2 Å: allowed by the default threshold
    _raises(frames, "apart", field="positions", min_distance=0.25)


def test_atoms_too_close_across_boundary():
    a = Atoms(
        "Cu2", positions=[[0.02, 1, 1], [3.97, 1, 1]], cell=np.eye(3) * 4, pbc=True
    )
    a.info[keys.ENERGY] = 0.0
    a.arrays[keys.FORCES] = np.zeros((2, 3))
    text = _raises([_good(1)[0], a], "periodic image", field="positions")
    assert "0.05 Å apart" in text
    a.pbc = False  # 3.95 Å apart without periodic images
    validate_structures([a])


# --- corrupt or truncated files ---------------------------------------------------


def _mlearn_text(mlearn_dir, n=4):
    entries = json.loads((mlearn_dir / "Li" / "test.json").read_text())[:n]
    return json.dumps(entries, indent=1)


def test_truncated_json(mlearn_dir, tmp_path):
    text = _mlearn_text(mlearn_dir)
    path = tmp_path / "cut.json"
    path.write_text(text[: int(len(text) * 0.6)])
    with pytest.raises(InputError, match=r"truncated JSON at line \d+ column \d+") as e:
        read(path)
    assert e.value.file == str(path) and e.value.entry == 2


def test_corrupt_json(mlearn_dir, tmp_path):
    parts = [json.dumps(e, indent=1) for e in json.loads(_mlearn_text(mlearn_dir))]
    text = "[" + ",\n".join(parts) + "]"
    # break entry 3: drop a comma inside its forces list
    start = text.index('"forces"', len(text) - len(parts[3]))
    k = text.index(",", start + 15)
    path = tmp_path / "bad.json"
    path.write_text(text[:k] + text[k + 1 :])
    with pytest.raises(InputError, match="corrupt JSON at line") as e:
        read(path)
    assert e.value.entry == 3
    path.write_text("not json at all")
    with pytest.raises(InputError, match="expected a JSON list"):
        read(path)
    path.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read(path)


def test_mlearn_bad_fields(mlearn_dir, tmp_path):
    entries = json.loads(_mlearn_text(mlearn_dir))
    path = tmp_path / "fields.json"
    bad = json.loads(json.dumps(entries))
    bad[2]["outputs"]["forces"] = bad[2]["outputs"]["forces"][:-1]
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match=r"shape \(\d+, 3\), expected") as e:
        read(path)
    assert (e.value.entry, e.value.field) == (2, "forces")
    bad = json.loads(json.dumps(entries))
    bad[1]["outputs"]["energy"] = None
    bad[1]["outputs"]["virial_stress"] = [1.0, 2.0]
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match="virial_stress must be 6") as e:
        read(path)
    assert (e.value.entry, e.value.field) == (1, "virial_stress")
    bad = json.loads(json.dumps(entries))
    bad[1]["outputs"]["energy"] = None
    path.write_text(json.dumps(bad))
    frames = read(path)
    _raises_file = pytest.raises(InputError, match="energy: missing, but required")
    with _raises_file as e:
        validate_structures(frames, file=path)
    assert e.value.entry == 1
    bad[0]["structure"]["sites"][1]["species"][0]["element"] = "Xx"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError, match="site 1 has an unknown element .Xx.") as e:
        read(path)
    assert (e.value.entry, e.value.field) == (0, "structure.sites")


def test_truncated_extxyz(tmp_path):
    path = tmp_path / "set.xyz"
    write_extxyz(path, _good(3))
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.xyz"
    cut.write_text("\n".join(lines[:-3]) + "\n")
    with pytest.raises(InputError, match="corrupt or truncated extxyz file") as e:
        read(cut)
    assert e.value.file == str(cut) and e.value.entry == 2
    assert "line 21" in str(e.value)  # frames of 8 atoms: 10 lines each


def test_corrupt_extxyz(tmp_path):
    path = tmp_path / "set.xyz"
    write_extxyz(path, _good(3))
    lines = path.read_text().splitlines()
    fields = lines[14].split()
    fields[2] = "abc"
    lines[14] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="frame starting at line 11") as e:
        read(path)
    assert e.value.entry == 1
    missing = tmp_path / "nothing.xyz"
    with pytest.raises(InputError, match="file not found"):
        read(missing)
