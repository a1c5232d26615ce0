"""``matml data fetch`` and ``matml data info``; bad input exits 2 with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from matml.cli import app

SRC = str(Path(__file__).resolve().parents[2] / "src")
runner = CliRunner()


def _matml(*args, env=None):
    """Run ``python -m matml`` as a user would (exit codes and stderr included)."""
    full_env = dict(os.environ, PYTHONPATH=SRC, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "matml", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
    )


def test_fetch_local_folder(mlearn_dir):
    result = runner.invoke(
        app,
        ["data", "fetch", "mlearn", "--element", "Li", "--data-dir", str(mlearn_dir)],
    )
    assert result.exit_code == 0, result.output
    assert "mlearn Li training: 241 structures, 11,576 atoms, checked" in result.output
    assert "mlearn Li test: 29 structures, 1,320 atoms, checked" in result.output


def test_fetch_download(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("MATML_MLEARN_URL", url)
    result = runner.invoke(
        app,
        [
            "data",
            "fetch",
            "mlearn",
            "-e",
            "Si",
            "--split",
            "test",
            "--cache-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mlearn" / "Si" / "test.json").is_file()
    assert "25 structures, 1,525 atoms" in result.output


def test_info(mlearn_dir):
    result = runner.invoke(app, ["data", "info", str(mlearn_dir / "Si" / "test.json")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "structures  25" in out and "atoms       1,525" in out
    assert "species     Si 1,525" in out
    assert "checked     ok" in out


def test_bad_split_exits_2(mlearn_dir):
    proc = _matml(
        "data",
        "fetch",
        "mlearn",
        "-e",
        "Cu",
        "--split",
        "training",
        "--data-dir",
        mlearn_dir,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "no training set for Cu" in proc.stderr and "Traceback" not in proc.stderr


def test_info_truncated_file_exits_2(mlearn_dir, tmp_path):
    entries = json.loads((mlearn_dir / "Cu" / "test.json").read_text())[:3]
    text = json.dumps(entries)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    proc = _matml("data", "info", path)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"error: {path}: entry 1: truncated JSON")


def test_info_overlapping_atoms_exits_2(tmp_path):
    from ase.build import bulk

    from matml.io import write_extxyz

    frames = [bulk("Cu", cubic=True) for _ in range(2)]
    frames[1].positions[1] = frames[1].positions[0] + 0.01
    path = tmp_path / "overlap.xyz"
    write_extxyz(path, frames)
    proc = _matml("data", "info", path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: {path}: entry 1: field positions: atoms 0 and 1 are 0.0173 Å apart "
        "(< 0.1 Å)"
    )
