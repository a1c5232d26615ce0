"""Bad input and faults as a user meets them from the CLI: every command applies the
same checks, every error is one whole line naming the file (and entry, field), exit 2,
and a failed or killed run leaves nothing behind in its output folder."""

from __future__ import annotations

import json
import re
import sys

import jax
import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.build import bulk

from matml.cli import main
from matml.demo.emt_copper import label
from matml.io import write_extxyz


def run(monkeypatch, capsys, *args) -> tuple[int, str]:
    """``matml ARGS`` in this process: (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.strip()


def one_line(err: str, path) -> str:
    """Assert ``err`` is matml's one-line error naming ``path``; return its message."""
    assert err.count("\n") == 0, err
    assert "Traceback" not in err
    assert err.startswith(f"error: {path}: "), err
    return err.removeprefix(f"error: {path}: ")


def copper(n=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        out.append(label(a))
    return out


def write_config(tmp_path, data, name="c.yaml", **train):
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"train": str(data), "valid_fraction": 0.25},
                "model": {"name": "pair", "cutoff": 3.0, "hidden": [4]},
                "train": {"epochs": 1, "batch_size": 2, **train},
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny pair model trained for one epoch on EMT copper."""
    from matml.train.config import load_config
    from matml.train.run import train_from_config

    tmp = tmp_path_factory.mktemp("model")
    data = tmp / "cu.extxyz"
    write_extxyz(data, copper())
    train_from_config(load_config(write_config(tmp, data)), tmp / "run", progress=False)
    return tmp / "run" / "model.matml"


def _overlapping(tmp_path):
    frames = copper(2)
    close = frames[1]
    close.positions[3] = close.positions[2] + [0.01, 0, 0]
    path = tmp_path / "close.extxyz"
    write_extxyz(path, frames)
    return path


# -- the same validation everywhere ------------------------------------------------


@pytest.mark.parametrize("command", ["describe", "data info", "train", "evaluate"])
def test_every_command_rejects_overlapping_atoms(
    command, monkeypatch, capsys, tmp_path, model
):
    path = _overlapping(tmp_path)
    out = tmp_path / "out"
    args = {
        "describe": ["describe", path, "--out", out / "f.npz", "-N", "2", "-d", "2"],
        "data info": ["data", "info", path],
        "train": ["train", write_config(tmp_path, path), "--out", out],
        "evaluate": ["evaluate", model, path, "--out", out],
    }[command]
    code, err = run(monkeypatch, capsys, *args)
    assert code == 2
    message = one_line(err, path)
    assert (
        message == "entry 1: field positions: atoms 2 and 3 are 0.01 Å apart (< 0.1 Å)"
    )
    assert not out.exists()


def test_describe_singular_cell_names_the_file(monkeypatch, capsys, tmp_path):
    frames = copper(3)
    frames[2].cell[2] = frames[2].cell[1]
    path = tmp_path / "flat.extxyz"
    write_extxyz(path, frames)
    out = tmp_path / "f.npz"
    code, err = run(monkeypatch, capsys, "describe", path, "--out", out, "--batch", "2")
    assert code == 2
    message = one_line(err, path)
    # entry 2 counts from the file's start, not from the start of its chunk
    assert message.startswith("entry 2: field cell: singular cell")
    assert not out.exists()


def test_describe_unknown_species_names_file_and_entry(monkeypatch, capsys, tmp_path):
    frames = copper(3)
    frames[2] = Atoms("Ag", cell=[4, 4, 4], pbc=True)
    path = tmp_path / "mixed.extxyz"
    write_extxyz(path, frames)
    code, err = run(monkeypatch, capsys, "describe", path, "--out", tmp_path / "f.npz",
                    "--species", "Cu", "--batch", "2", "-N", "2", "-d", "2")  # fmt: skip
    assert code == 2
    assert one_line(err, path).startswith("entry 2: field numbers: element Ag")


def test_describe_writes_features_once_valid(monkeypatch, capsys, tmp_path):
    from matml.descriptors import MomentInvariants

    frames = copper(3)
    path = tmp_path / "cu.extxyz"
    write_extxyz(path, frames)
    out = tmp_path / "f.npz"
    code, _ = run(monkeypatch, capsys, "describe", path, "--out", out, "--batch", "2",
                  "-N", "2", "-d", "2", "--cutoff", "3.5")  # fmt: skip
    assert code == 0
    got = np.load(out)["features"]
    want = MomentInvariants(cutoff=3.5, max_order=2, max_degree=2)(frames)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


# -- messages: file named, one whole line --------------------------------------------


def test_data_info_on_a_folder(monkeypatch, capsys, tmp_path):
    folder = tmp_path / "structures"
    folder.mkdir()
    code, err = run(monkeypatch, capsys, "data", "info", folder)
    assert code == 2
    message = one_line(err, folder)
    assert message == "is a folder, not a structure file"
    assert "bundletrajectory" not in err


def test_truncated_json_is_one_whole_line(monkeypatch, capsys, tmp_path, mlearn_dir):
    text = json.dumps(json.loads((mlearn_dir / "Cu" / "test.json").read_text())[:2])
    cut = text.index('"element"', len(text) // 2) + 4  # inside a string
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    code, err = run(monkeypatch, capsys, "data", "info", path)
    assert code == 2
    message = one_line(err, path)
    assert re.fullmatch(
        r"entry 1: truncated JSON at line 1 column \d+: unterminated string", message
    ), message


def test_corrupt_json_control_character(monkeypatch, capsys, tmp_path):
    path = tmp_path / "ctrl.json"
    path.write_text('[{"structure": "a\nb"}]')
    code, err = run(monkeypatch, capsys, "data", "info", path)
    assert code == 2
    message = one_line(err, path)
    assert message == (
        "entry 0: corrupt JSON at line 1 column 18: invalid control character"
    )


def test_unknown_file_format(monkeypatch, capsys, tmp_path):
    path = tmp_path / "cu.foo"
    path.write_text("hello")
    code, err = run(monkeypatch, capsys, "data", "info", path)
    assert code == 2
    assert one_line(err, path).startswith("cannot tell the file format")
    good = tmp_path / "cu.extxyz"
    write_extxyz(good, copper(1))
    code, err = run(monkeypatch, capsys, "data", "info", good, "--format", "nosuch")
    assert code == 2
    assert one_line(err, good) == (
        "field format: unknown format 'nosuch'; use mlearn, extxyz or an ase.io format"
    )


def test_evaluate_empty_file_and_unknown_element(monkeypatch, capsys, tmp_path, model):
    empty = tmp_path / "empty.extxyz"
    empty.write_text("")
    code, err = run(monkeypatch, capsys, "evaluate", model, empty)
    assert code == 2
    assert one_line(err, empty) == "holds no structures"
    code, err = run(monkeypatch, capsys, "evaluate", model, "mlearn:Xx")
    assert code == 2
    assert one_line(err, "mlearn:Xx").startswith("field element: mlearn has no element")


def test_evaluate_by_key(monkeypatch, capsys, tmp_path, model):
    """--by KEY: per-value energy errors equal to the model's own predictions, in
    metrics.json; a key no structure has is a one-line error."""
    from matml.prediction import predict

    frames = copper(5, seed=3)
    kinds = ["bulk", "strained", "bulk", "strained", "strained"]
    for a, k in zip(frames, kinds, strict=True):
        a.info["config_type"] = k
    data = tmp_path / "t.extxyz"
    write_extxyz(data, frames)
    code, _ = run(monkeypatch, capsys, "evaluate", model, data, "--by", "config_type",
                  "--out", tmp_path / "ev")  # fmt: skip
    assert code == 0
    got = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    rows = got["energy_by_config_type"]
    assert list(rows) == ["bulk", "strained"]
    pred = np.asarray(predict(model, frames)["energy"])
    err = np.array(
        [
            (p - a.info["energy"]) / len(a) * 1e3
            for p, a in zip(pred, frames, strict=True)
        ]
    )
    for k in ("bulk", "strained"):
        e = err[np.array(kinds) == k]
        assert rows[k]["n"] == len(e)
        assert rows[k]["energy_rmse_mev_per_atom"] == pytest.approx(
            np.sqrt(np.mean(e**2)), rel=1e-6
        )
        assert rows[k]["energy_mean_error_mev_per_atom"] == pytest.approx(
            np.mean(e), rel=1e-6
        )
    code, err = run(monkeypatch, capsys, "evaluate", model, data, "--by", "group")
    assert code == 2
    assert one_line(err, data) == "field --by: no structure has the info key 'group'"
    for a in frames:
        del a.info["energy"]
    bare = tmp_path / "no_energy.extxyz"
    write_extxyz(bare, frames)
    code, err = run(monkeypatch, capsys, "evaluate", model, bare, "--by", "config_type")
    assert code == 2
    assert one_line(err, bare) == (
        "field --by: no structure has a reference energy to compare"
    )


def test_train_error_names_the_config(monkeypatch, capsys, tmp_path):
    cfg = write_config(tmp_path, "mlearn:Xx")
    code, err = run(monkeypatch, capsys, "train", cfg, "--out", tmp_path / "o")
    assert code == 2
    assert one_line(err, cfg).startswith("field element: mlearn has no element 'Xx'")


# -- faults: a diverging run, a killed run ------------------------------------------


def test_diverging_training_leaves_nothing(monkeypatch, capsys, tmp_path):
    data = tmp_path / "cu.extxyz"
    write_extxyz(data, copper())
    cfg = write_config(tmp_path, data, lr=1e8, epochs=5)
    out = tmp_path / "out"
    args = ("train", cfg, "--out", out, "--no-progress")
    with jax.debug_nans(False), jax.debug_infs(False):  # the trainer's own check
        code, err = run(monkeypatch, capsys, *args)
    assert code == 2
    message = one_line(err, cfg)
    assert message.startswith("field train.lr: the training loss became")
    assert not out.exists()
    # an output folder that already held something keeps only that
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with jax.debug_nans(False), jax.debug_infs(False):
        code, _ = run(monkeypatch, capsys, *args)
    assert code == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_resume_removes_what_a_killed_run_left(monkeypatch, capsys, tmp_path):
    data = tmp_path / "cu.extxyz"
    write_extxyz(data, copper())
    cfg = write_config(tmp_path, data)
    out = tmp_path / "out"
    code, _ = run(monkeypatch, capsys, "train", cfg, "--out", out, "--no-progress")
    assert code == 0
    # killed while writing its checkpoint: atomic_path's temporary file stays
    left = out / ".checkpoint.pkl.k1ll3d.tmp.pkl"
    left.write_bytes(b"half a checkpoint")
    code, _ = run(monkeypatch, capsys, "train", cfg, "--out", out, "--resume",
                  "--epochs", "2", "--no-progress")  # fmt: skip
    assert code == 0
    assert not left.exists()
    assert not list(out.glob(".*.tmp*"))
    assert (out / "checkpoint.pkl").is_file() and (out / "model.matml").is_file()
    rows = (out / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + epochs 1 and 2


def test_describe_lists_neighbours_once_and_reuses_shapes(
    monkeypatch, capsys, tmp_path
):
    import matml.data.dataset as dataset
    from matml.cli import describe

    calls = []
    original = dataset.neighbor_list

    def counted(atoms, cutoff, **kw):
        calls.append(len(atoms))
        return original(atoms, cutoff, **kw)

    monkeypatch.setattr(dataset, "neighbor_list", counted)
    shapes = []
    real = describe._padded_graph

    def recorded(desc, chunk, file, start, seen):
        graph = real(desc, chunk, file, start, seen)
        shapes.append((graph.positions.shape[0], graph.senders.shape[0]))
        return graph

    monkeypatch.setattr(describe, "_padded_graph", recorded)
    frames = copper(5)
    path = tmp_path / "cu.extxyz"
    write_extxyz(path, frames)
    code, _ = run(monkeypatch, capsys, "describe", path, "--out", tmp_path / "f.npz",
                  "--batch", "2", "-N", "2", "-d", "2")  # fmt: skip
    assert code == 0
    assert calls == [4] * 5  # one neighbour list per structure
    assert len(shapes) == 3 and len(set(shapes)) == 1  # the last, smaller chunk fits


def test_devices_and_stores_from_the_cli(monkeypatch, capsys, tmp_path):
    data = tmp_path / "cu.extxyz"
    write_extxyz(data, copper())
    cfg = write_config(tmp_path, data)
    out = tmp_path / "run"
    code, err = run(monkeypatch, capsys, "train", cfg, "--out", out, "--devices", "4")
    assert code == 2
    assert "asks for 4 devices but 1 CPU device is present" in one_line(err, cfg)
    assert not out.exists()
    code, err = run(monkeypatch, capsys, "train", cfg, "--out", out, "--devices", "x")
    assert code == 2 and "'auto' or a number of devices" in err
    # a store: prepared once, trained from, refused when its cutoff is not the model's
    store = tmp_path / "cu.store"
    code, _ = run(monkeypatch, capsys, "data", "prepare", data, "--out", store,
                  "--cutoff", 3.0, "--no-progress")  # fmt: skip
    assert code in (0, None) and (store / "store.json").is_file()
    scfg = write_config(tmp_path, store, name="s.yaml")
    code, _ = run(monkeypatch, capsys, "train", scfg, "--out", out, "--no-progress")
    assert code in (0, None) and (out / "model.matml").is_file()
    code, err = run(monkeypatch, capsys, "data", "prepare", data, "--out", store)
    assert code == 2 and "exists already" in one_line(err, store)
    bad = write_config(tmp_path, store, name="b.yaml")
    raw = yaml.safe_load(bad.read_text())
    raw["model"]["cutoff"] = 4.0
    bad.write_text(yaml.safe_dump(raw))
    code, err = run(monkeypatch, capsys, "train", bad, "--out", tmp_path / "r2")
    assert code == 2
    assert "prepared with cutoff 3.0 Å but the model's is 4.0 Å" in one_line(err, store)
    assert not (tmp_path / "r2").exists()
