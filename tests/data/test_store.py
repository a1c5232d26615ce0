"""Graph stores: what is stored is what was read; training from one equals training
from the files; damaged or foreign stores are one-line errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from jax.tree_util import tree_leaves

from matml.data import Dataset, GraphLoader, prefetch
from matml.data.store import GraphStore, StoreWriter, prepare_store
from matml.demo.emt_copper import make_emt_copper
from matml.errors import InputError
from matml.io import write_extxyz
from matml.potential import fit_e0, fit_scale_shift
from matml.train.run import train_from_config

CUTOFF = 4.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    atoms = make_emt_copper(16, seed=3)
    del atoms[5].arrays["forces"]  # a structure without forces: stored as such
    write_extxyz(root / "a.xyz", atoms[:9])
    write_extxyz(root / "b.xyz", atoms[9:])
    store = prepare_store([root / "a.xyz", root / "b.xyz"], root / "cu.store", CUTOFF)
    return root, atoms, store


def test_store_holds_what_was_read(files):
    root, atoms, store = files
    from matml.io import read

    mem = Dataset.from_atoms(read(root / "a.xyz") + read(root / "b.xyz"), CUTOFF)
    lazy = store.dataset(CUTOFF)
    assert lazy.lazy and len(lazy) == len(mem) == len(atoms)
    assert store.header["n_atoms"] == sum(len(a) for a in atoms)
    for i in range(len(mem)):
        a, b = mem.structures[i], lazy.structures[i]
        for k in ("positions", "species", "cell", "pbc", "receivers", "senders",
                  "shifts", "forces", "stress"):  # fmt: skip
            x, y = getattr(a, k), getattr(b, k)
            assert (x is None) == (y is None), (i, k)
            if x is not None:
                np.testing.assert_array_equal(x, y)
        assert a.energy == b.energy
    assert lazy.structures[5].forces is None
    np.testing.assert_array_equal(mem.sizes()[1], lazy.sizes()[1])
    np.testing.assert_allclose(fit_e0(mem), fit_e0(lazy), rtol=1e-12)
    assert fit_scale_shift(mem, fit_e0(mem)) == pytest.approx(
        fit_scale_shift(lazy, fit_e0(lazy)), rel=1e-12
    )
    # batches streamed in a background thread are the in-memory ones
    tr_m, _ = mem.split(0.25, seed=4)
    tr_l, _ = lazy.split(0.25, seed=4)
    for gm, gl in zip(
        GraphLoader(tr_m, 3), prefetch(GraphLoader(tr_l, 3)), strict=True
    ):
        assert gm.properties.keys() == gl.properties.keys()
        for x, y in zip(tree_leaves(gm), tree_leaves(gl), strict=True):
            np.testing.assert_array_equal(x, y)


def test_training_from_a_store_equals_training_from_files(files, tmp_path):
    root, _, _ = files
    from matml.io import read

    raw = {
        "seed": 1,
        "dtype": "float64",
        "model": {"name": "pair", "cutoff": CUTOFF, "hidden": [8], "embedding": 2},
        "data": {"valid_fraction": 0.25},
        "train": {"epochs": 3, "batch_size": 4, "n_buckets": 1, "forces_weight": 0},
    }
    atoms = read(root / "a.xyz") + read(root / "b.xyz")
    r1 = train_from_config(raw, tmp_path / "f", progress=False, train_atoms=atoms)
    raw["data"]["train"] = str(root / "cu.store")
    r2 = train_from_config(raw, tmp_path / "s", progress=False)

    def curve(p):
        with open(p / "metrics.csv") as fh:
            return [float(r["train_loss"]) for r in csv.DictReader(fh)]

    np.testing.assert_allclose(curve(tmp_path / "f"), curve(tmp_path / "s"), rtol=1e-9)
    assert r1["valid"]["energy_rmse"] == pytest.approx(r2["valid"]["energy_rmse"])
    # forces are needed by default, and one structure has none: named
    raw["train"]["forces_weight"] = 1.0
    with pytest.raises(InputError, match="entry 5: field forces: has no forces"):
        train_from_config(raw, tmp_path / "s2", progress=False)
    assert not (tmp_path / "s2").exists()


def _copy(store, dest):
    import shutil

    shutil.copytree(store.path, dest)
    return dest


def test_damaged_or_foreign_stores_are_one_line_errors(files, tmp_path):
    _, _, store = files
    old = _copy(store, tmp_path / "old.store")
    h = json.loads((old / "store.json").read_text())
    h["version"], h["matml"] = 0, "0.0.1"
    (old / "store.json").write_text(json.dumps(h))
    with pytest.raises(InputError, match=r"written by matml 0\.0\.1 .* version 0"):
        GraphStore(old)
    cut = _copy(store, tmp_path / "cut.store")
    data = (cut / "senders.bin").read_bytes()
    (cut / "senders.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="senders.bin is .* truncated"):
        GraphStore(cut)
    (cut / "store.json").write_text("{not json")
    with pytest.raises(InputError, match="store.json is not valid JSON"):
        GraphStore(cut)
    with pytest.raises(InputError, match="cutoff 4.0 Å but the model's is 5.0"):
        store.dataset(5.0)
    with pytest.raises(InputError, match="not among the model's species"):
        store.dataset(CUTOFF, ["Ni"])
    with pytest.raises(InputError) as info:
        GraphStore(cut)
    assert "\n" not in str(info.value)


def test_prepare_leaves_nothing_behind_on_bad_input(files, tmp_path):
    root, atoms, _ = files
    bad = [a.copy() for a in atoms[:3]]
    for a, b in zip(bad, atoms[:3], strict=True):
        a.info.update(b.info)
        a.arrays["forces"] = b.arrays["forces"]
    bad[2].positions[1] = bad[2].positions[0] + 0.01  # overlapping atoms
    write_extxyz(tmp_path / "bad.xyz", bad)
    out = tmp_path / "x.store"
    with pytest.raises(InputError, match="bad.xyz: entry 2: field positions"):
        prepare_store([root / "a.xyz", tmp_path / "bad.xyz"], out, CUTOFF)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xyz"]
    with pytest.raises(InputError, match="exists already"):
        StoreWriter(root / "cu.store", CUTOFF)


def test_prefetch_raises_the_producers_error():
    def gen():
        yield 1
        raise InputError("broken", file="f")

    it = prefetch(gen())
    assert next(it) == 1
    with pytest.raises(InputError, match="f: broken"):
        next(it)
