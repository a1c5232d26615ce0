"""mlearn files from a local folder and from a (local) HTTP server, with checks."""

from __future__ import annotations

import json

import pytest

from matml.errors import InputError
from matml.io import MLEARN_COUNTS, fetch_mlearn, load_mlearn


@pytest.mark.parametrize(("element", "split"), [("Si", "training"), ("Ni", "test")])
def test_local_folder(mlearn_dir, element, split, monkeypatch):
    want = mlearn_dir / element / f"{split}.json"
    assert fetch_mlearn(element, split, data_dir=mlearn_dir) == want
    assert fetch_mlearn(element.lower(), split, data_dir=mlearn_dir / element) == want
    assert fetch_mlearn(element, split, data_dir=mlearn_dir.parent) == want
    monkeypatch.setenv("MATML_DATA_DIR", str(mlearn_dir))
    assert fetch_mlearn(element, split) == want
    atoms = load_mlearn(element, split)
    assert (len(atoms), sum(map(len, atoms))) == MLEARN_COUNTS[(element, split)]


def test_all_splits(mlearn_dir):
    atoms = load_mlearn("Li", "all", data_dir=mlearn_dir)
    assert len(atoms) == 241 + 29
    assert len(load_mlearn("Cu", "all", data_dir=mlearn_dir)) == 31


def test_unknown_element_or_split(mlearn_dir, tmp_path):
    with pytest.raises(InputError, match="no element 'Xx'; available: Cu, Ge"):
        fetch_mlearn("Xx", data_dir=mlearn_dir)
    with pytest.raises(InputError, match=r"no training set for Cu \(only: test\)") as e:
        fetch_mlearn("Cu", "training", data_dir=mlearn_dir)
    assert e.value.field == "split"
    with pytest.raises(InputError, match="split must be"):
        fetch_mlearn("Si", "valid", data_dir=mlearn_dir)
    with pytest.raises(InputError, match="no Si/test.json in this data folder") as e:
        fetch_mlearn("Si", "test", data_dir=tmp_path)
    assert e.value.file == str(tmp_path)


def test_local_file_is_checked(mlearn_dir, tmp_path):
    entries = json.loads((mlearn_dir / "Si" / "test.json").read_text())
    (tmp_path / "Si").mkdir()
    (tmp_path / "Si" / "test.json").write_text(json.dumps(entries[:-1]))
    with pytest.raises(
        InputError, match="holds 24 structures and 1461 atoms, expected 25"
    ):
        fetch_mlearn("Si", "test", data_dir=tmp_path)


def test_download_and_cache(server, tmp_path):
    root, url = server
    cache = tmp_path / "cache"
    path = fetch_mlearn("Si", "test", cache_dir=cache, base_url=url)
    assert path == cache / "mlearn" / "Si" / "test.json"
    assert path.read_bytes() == (root / "data" / "Si" / "test.json").read_bytes()
    # a second call uses the cache: the server's copy is gone, the cache still answers
    (root / "data" / "Si" / "test.json").unlink()
    assert fetch_mlearn("Si", "test", cache_dir=cache, base_url=url) == path
    assert len(load_mlearn("Si", "test", cache_dir=cache, base_url=url)) == 25


def test_download_env_overrides(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("MATML_CACHE_DIR", str(tmp_path / "envcache"))
    monkeypatch.setenv("MATML_MLEARN_URL", url)
    path = fetch_mlearn("Li", "test")
    assert path == tmp_path / "envcache" / "mlearn" / "Li" / "test.json"


def test_truncated_download_rejected(server, tmp_path):
    root, url = server
    served = root / "data" / "Si" / "test.json"
    served.write_bytes(served.read_bytes()[:100_000])
    cache = tmp_path / "cache"
    with pytest.raises(
        InputError, match="downloaded file rejected: truncated JSON"
    ) as e:
        fetch_mlearn("Si", "test", cache_dir=cache, base_url=url)
    assert e.value.file == f"{url}/Si/test.json"
    folder = cache / "mlearn" / "Si"
    assert not folder.exists() or list(folder.iterdir()) == []  # nothing left behind


def test_short_download_rejected(server, tmp_path, mlearn_dir):
    """Valid JSON but not the published file: the counts check rejects it."""
    root, url = server
    entries = json.loads((mlearn_dir / "Li" / "test.json").read_text())
    (root / "data" / "Li" / "test.json").write_text(json.dumps(entries[:10]))
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match="holds 10 structures"):
        fetch_mlearn("Li", "test", cache_dir=cache, base_url=url)
    assert list((cache / "mlearn" / "Li").iterdir()) == []


def test_bad_cache_is_replaced(server, tmp_path):
    _, url = server
    cache = tmp_path / "cache"
    dest = cache / "mlearn" / "Si" / "test.json"
    dest.parent.mkdir(parents=True)
    dest.write_text("[{")
    assert fetch_mlearn("Si", "test", cache_dir=cache, base_url=url) == dest
    assert len(json.loads(dest.read_text())) == 25


def test_download_failure(server, tmp_path):
    _, url = server
    with pytest.raises(InputError, match="download failed \\(HTTP 404 .*--data-dir"):
        fetch_mlearn("Mo", "test", cache_dir=tmp_path, base_url=url)
    assert not (tmp_path / "mlearn" / "Mo" / "test.json").exists()
