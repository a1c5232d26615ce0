"""``matml describe``: writes the features; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from matml.cli import main


def run(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["matml", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    out = capsys.readouterr()
    return exc.value.code, out.err.strip()


def test_describe_writes_features(tmp_path, monkeypatch, capsys):
    frames = [bulk("Si", "diamond", a=5.43), bulk("Si", "diamond", a=5.43) * (1, 1, 2)]
    frames[1].rattle(0.05, seed=0)
    src = tmp_path / "si.xyz"
    write(src, frames, format="extxyz")
    out = tmp_path / "f.npz"
    code, _ = run(
        monkeypatch,
        capsys,
        "describe",
        src,
        "--out",
        out,
        "-N",
        "3",
        "-d",
        "3",
        "--cutoff",
        "4",
    )
    assert code in (0, None)
    z = np.load(out)
    assert z["features"].shape == (6, 31)
    assert z["structure"].tolist() == [0, 0, 1, 1, 1, 1]
    assert z["counts"].tolist() == [2, 8, 21, 0]
    assert json.loads(str(z["config"]))["descriptor"]["max_order"] == 3
    # the two atoms of the perfect crystal are equivalent
    f = z["features"]
    np.testing.assert_allclose(f[0], f[1], atol=1e-5 * np.abs(f).max())


def test_describe_bad_option_exits_2(tmp_path, monkeypatch, capsys):
    src = tmp_path / "si.xyz"
    write(src, [bulk("Si", "diamond", a=5.43)], format="extxyz")
    out = tmp_path / "f.npz"
    code, err = run(
        monkeypatch, capsys, "describe", src, "--out", out, "--radial", "fourier"
    )
    assert code == 2
    assert "radial" in err and len(err.splitlines()) == 1
    assert not out.exists()
