"""Readers' messages: one whole line naming the file (entry and field where there is
one), never a traceback from numpy or ASE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matml.errors import InputError
from matml.io import default_cache_dir, read


def _error(path, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        read(path, **kw)
    err = info.value
    assert err.file == str(path)
    text = str(err)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert not text.endswith((" at", ":")), text  # not cut off mid-sentence
    return err


@pytest.fixture
def entries(mlearn_dir):
    return json.loads((mlearn_dir / "Cu" / "test.json").read_text())[:2]


# -- files that are not what they claim ----------------------------------------------


@pytest.mark.parametrize("name", ["set", "set.json", "set.xyz"])
def test_folder_is_not_a_structure_file(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    err = _error(folder)
    assert err.message == "is a folder, not a structure file"


def test_folder_through_a_json_reader(tmp_path):
    from matml.io import read_mlearn

    folder = tmp_path / "set.json"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder, not a JSON file"):
        read_mlearn(folder)


def test_binary_extxyz(tmp_path):
    path = tmp_path / "b.xyz"
    path.write_bytes(bytes(range(256)) * 4)
    err = _error(path)
    assert err.entry == 0
    assert err.message.startswith("not a text file (frame starting at line 1")


def test_unknown_suffix_and_format(tmp_path):
    path = tmp_path / "cu.foo"
    path.write_text("hello")
    assert _error(path).message.startswith(
        "cannot tell the file format (no format is called 'foo')"
    )
    err = _error(path, format="nosuch")
    assert err.field == "format" and "unknown format 'nosuch'" in err.message


# -- JSON: whole sentences, line and column ------------------------------------------


def test_json_messages_are_whole_sentences(tmp_path):
    path = tmp_path / "x.json"
    cases = {
        '[{"a": "b': "entry 0: truncated JSON at line 1 column 8: unterminated string",
        '[{"a": "b\nc"}]': "entry 0: corrupt JSON at line 1 column 10: invalid "
        "control character",
        '[{"a" 1}]': "entry 0: corrupt JSON at line 1 column 7: expecting ':' "
        "delimiter",
        "[] x": "extra data after the list at line 1 column 4",
        "[\n]\n\n  ]": "extra data after the list at line 4 column 3",
    }
    for text, want in cases.items():
        path.write_text(text)
        assert str(_error(path)) == f"{path}: {want}", text


def test_json_not_utf8(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'[{"a": "\xff"}]')
    assert (
        _error(path).message == "not a UTF-8 text file (invalid start byte at byte 8)"
    )


# -- extxyz values that are not numbers -----------------------------------------------

_HEADER = 'Lattice="3 0 0 0 3 0 0 0 3" pbc="T T T" '


def test_extxyz_forces_not_numeric(tmp_path):
    path = tmp_path / "f.xyz"
    path.write_text(
        "1\n" + _HEADER + "Properties=species:S:1:pos:R:3:REF_forces:S:3 "
        "REF_energy=-1.0\nCu 0 0 0 x y z\n"
    )
    err = _error(path)
    assert (err.entry, err.field) == (0, "REF_forces")
    assert err.message.startswith("forces are not numeric: ['x', 'y', 'z']")


def test_extxyz_stress_not_numeric(tmp_path):
    path = tmp_path / "s.xyz"
    path.write_text(
        "1\n" + _HEADER + 'Properties=species:S:1:pos:R:3 REF_stress="a b c d e f"\n'
        "Cu 0 0 0\n"
    )
    err = _error(path)
    assert (err.entry, err.field) == (0, "REF_stress")
    assert err.message == "stress is not numeric: 'a b c d e f'"


# -- mlearn entries -----------------------------------------------------------------


def _write(tmp_path, entries) -> Path:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda e: e["structure"]["sites"][3]["species"][0].update(element="Xx"),
            "structure.sites",
            "site 3 has an unknown element 'Xx'",
        ),
        (
            lambda e: e["structure"]["sites"][2].update(abc=[0.5, 0.5]),
            "structure.sites",
            "site 2: abc must be 3 fractional coordinates, got [0.5, 0.5]",
        ),
        (
            lambda e: e["structure"]["sites"][2].update(abc=["a", 0, 0]),
            "structure.sites",
            "site 2: abc must be 3 fractional coordinates, got ['a', 0, 0]",
        ),
        (
            lambda e: e["structure"]["sites"][1].update(species=["Cu"]),
            "structure.sites",
            "site 1 has no species/abc",
        ),
        (
            lambda e: e["structure"].update(sites=5),
            "structure.sites",
            "sites must be a list, not int",
        ),
        (
            lambda e: e["structure"]["lattice"].update(matrix=[[1, 0, 0], "ab"]),
            "structure.lattice",
            "lattice matrix is not a 3x3 array of numbers",
        ),
        (
            lambda e: e.update(outputs=[1.0]),
            "outputs",
            "outputs must be a mapping, not list",
        ),
    ],
)
def test_mlearn_bad_entry(tmp_path, entries, change, field, message):
    change(entries[1])
    err = _error(_write(tmp_path, entries))
    assert (err.entry, err.field, err.message) == (1, field, message)


# -- the cache folder ----------------------------------------------------------------


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MATML_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.setenv("MATML_CACHE_DIR", "~/somewhere")
    assert default_cache_dir() == Path.home() / "somewhere"
    monkeypatch.delenv("MATML_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "matml"
