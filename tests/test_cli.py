"""The CLI on bad input: one line naming file, entry and field; exit 2; nothing written."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import yaml
from ase.build import bulk

from matml.cli import main
from matml.demo.emt_copper import label
from matml.io import write_extxyz


def run(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err.strip()
    return exc.value.code, err


def structures(n=4, forces=True, nan_at=None):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        a = bulk("Cu", "fcc", a=3.6, cubic=True)
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        a = label(a)
        if not forces:
            del a.arrays["forces"]
        if i == nan_at:
            a.info["energy"] = float("nan")
        out.append(a)
    return out


def config(tmp_path, data, **train):
    path = tmp_path / "c.yaml"
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


def test_unknown_config_key(monkeypatch, capsys, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 2\n  lerning_rate: 0.1\n")
    code, err = run(monkeypatch, capsys, "train", path, "--out", tmp_path / "out")
    assert code == 2
    assert err.count("\n") == 0
    assert "c.yaml: field train.lerning_rate: unknown key 'lerning_rate'" in err
    assert not (tmp_path / "out").exists()


def test_nan_target(monkeypatch, capsys, tmp_path):
    data = tmp_path / "d.extxyz"
    write_extxyz(data, structures(nan_at=2))
    code, err = run(
        monkeypatch, capsys, "train", config(tmp_path, data), "--out", tmp_path / "o"
    )
    assert code == 2 and err.count("\n") == 0
    assert "d.extxyz" in err and "entry 2" in err and "field energy" in err
    assert not (tmp_path / "o").exists()


def test_missing_forces_where_the_loss_needs_them(monkeypatch, capsys, tmp_path):
    data = tmp_path / "d.extxyz"
    write_extxyz(data, structures(forces=False))
    cfg = config(tmp_path, data, forces_weight=1.0)
    code, err = run(monkeypatch, capsys, "train", cfg, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 0
    assert "d.extxyz" in err and "entry 0" in err and "field forces" in err
    assert not (tmp_path / "o").exists()
    # with no forces weight the same data trains
    cfg = config(tmp_path, data, forces_weight=0.0)
    code, _ = run(monkeypatch, capsys, "train", cfg, "--out", tmp_path / "o2",
                  "--no-progress")  # fmt: skip
    assert code == 0
    assert (tmp_path / "o2" / "model.matml").is_file()


def test_unknown_element_at_evaluation(monkeypatch, capsys, tmp_path):
    data = tmp_path / "d.extxyz"
    write_extxyz(data, structures())
    cfg = config(tmp_path, data)
    code, _ = run(monkeypatch, capsys, "train", cfg, "--out", tmp_path / "o",
                  "--no-progress")  # fmt: skip
    assert code == 0
    other = structures(2)
    other[1].symbols[0] = "Ag"
    write_extxyz(tmp_path / "t.extxyz", other)
    code, err = run(monkeypatch, capsys, "evaluate", tmp_path / "o" / "model.matml",
                    tmp_path / "t.extxyz", "--out", tmp_path / "ev")  # fmt: skip
    assert code == 2 and err.count("\n") == 0
    assert "entry 1" in err and "field numbers" in err and "Ag" in err
    assert not (tmp_path / "ev").exists()


def test_corrupt_model_file(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "m.matml"
    bad.write_bytes(b"not a model")
    write_extxyz(tmp_path / "t.extxyz", structures(1))
    code, err = run(monkeypatch, capsys, "evaluate", bad, tmp_path / "t.extxyz")
    assert code == 2 and "m.matml" in err and "not a matml model file" in err
