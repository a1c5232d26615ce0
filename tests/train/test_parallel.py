"""Data-parallel and multi-process training: the same numbers as one device.

The jobs run in subprocesses (``parallel_job.py``) with two forced host devices, so
that XLA_FLAGS and jax.distributed take effect before JAX starts.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

JOB = Path(__file__).with_name("parallel_job.py")
KILL_EPOCHS = 30


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env.pop("MATML_COORDINATOR", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _run(*args, env=None, timeout=900) -> dict:
    p = subprocess.run(
        [sys.executable, str(JOB), *map(str, args)],
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _curve(out: Path) -> list[tuple[int, float, float]]:
    with open(out / "metrics.csv") as fh:
        return [
            (int(r["epoch"]), float(r["train_loss"]), float(r["valid_loss"]))
            for r in csv.DictReader(fh)
        ]


def _same(a, b, rel=1e-6):
    assert [r[0] for r in a] == [r[0] for r in b]
    for x, y in zip(a, b, strict=True):
        assert x[1] == pytest.approx(y[1], rel=rel), (x, y)
        assert x[2] == pytest.approx(y[2], rel=rel), (x, y)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process, two host devices: runs on 1 and on 2 of them (one compile cache)."""
    root = tmp_path_factory.mktemp("runs")
    specs = ["pair:1:5", "pair:2:5", "nequip:1:5", "nequip:2:5",
             f"pair:1:{KILL_EPOCHS}"]  # fmt: skip
    return root, _run("--runs", root, *specs)


@pytest.mark.parametrize("model", ["pair", "nequip"])
def test_two_devices_give_the_loss_curve_of_one(model, runs):
    root, results = runs
    one, two = _curve(root / f"{model}-1-5"), _curve(root / f"{model}-2-5")
    assert len(two) == 5
    _same(one, two)
    assert two[-1][1] < 0.95 * two[0][1]  # a curve, not five equal numbers
    assert (root / f"{model}-2-5" / "model.matml").is_file()
    a, b = results[f"{model}-1-5"]["valid"], results[f"{model}-2-5"]["valid"]
    for k in ("energy_rmse", "forces_rmse", "stress_rmse"):
        assert a[k] == pytest.approx(b[k], rel=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_give_the_result_of_one(runs, tmp_path):
    root, results = runs
    out = tmp_path / "run"
    port = _free_port()
    procs = []
    for pid in (0, 1):
        env = _env(
            XLA_FLAGS="--xla_force_host_platform_device_count=1",
            MATML_COORDINATOR=f"127.0.0.1:{port}",
            MATML_NUM_PROCESSES=2,
            MATML_PROCESS_ID=pid,
            MATML_INIT_TIMEOUT=120,
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, str(JOB), str(out), "auto", "5"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    _same(_curve(root / "pair-1-5"), _curve(out))
    main = json.loads(outs[0][0].strip().splitlines()[-1])["results"]
    assert main["valid"]["energy_rmse"] == pytest.approx(
        results["pair-1-5"]["valid"]["energy_rmse"], rel=1e-6
    )
    assert not list(out.glob(".*.tmp*"))  # nothing half-written by either process


def test_killed_two_device_run_resumes_at_the_next_epoch(runs, tmp_path):
    root, _ = runs
    out = tmp_path / "killed"
    p = subprocess.Popen(
        [sys.executable, str(JOB), str(out), "2", str(KILL_EPOCHS)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    t0 = time.time()
    csv_path = out / "metrics.csv"
    while time.time() - t0 < 600 and p.poll() is None:
        if csv_path.exists() and len(csv_path.read_text().splitlines()) >= 4:
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert 3 <= len(_curve(out)) < KILL_EPOCHS
    # resumed on one device, it goes on at the next epoch, as if never killed
    _run(out, 1, KILL_EPOCHS, "--resume")
    after = _curve(out)
    assert [r[0] for r in after] == list(range(KILL_EPOCHS))
    _same(_curve(root / f"pair-1-{KILL_EPOCHS}"), after)
