"""Processes and devices from config, environment and SLURM; refusals before any
file is written."""

from __future__ import annotations

import socket
import time

import pytest

from matml.errors import ConfigError
from matml.train.distributed import (
    Processes,
    initialize,
    make_mesh,
    resolve_processes,
    slurm_hosts,
)
from matml.train.run import train_from_config


def test_slurm_node_lists_and_variables():
    assert slurm_hosts("gpu[01-03,07],login1") == [
        "gpu01", "gpu02", "gpu03", "gpu07", "login1"
    ]  # fmt: skip
    assert slurm_hosts("node7") == ["node7"]
    env = {"SLURM_NTASKS": "8", "SLURM_PROCID": "3", "SLURM_JOB_ID": "4242",
           "SLURM_STEP_NODELIST": "a[100-101]"}  # fmt: skip
    p = resolve_processes({}, env)
    assert p == Processes("a100:12242", 8, 3, 300.0, "SLURM")
    env = {"MATML_COORDINATOR": "10.0.0.1:999", "MATML_NUM_PROCESSES": "2",
           "MATML_PROCESS_ID": "1", "SLURM_NTASKS": "8"}  # fmt: skip
    assert resolve_processes({}, env).coordinator == "10.0.0.1:999"
    cfg = {"coordinator": "h:1", "num_processes": 2, "process_id": 0, "timeout": 9}
    assert resolve_processes(cfg, env) == Processes("h:1", 2, 0, 9.0, "config")
    assert resolve_processes({}, {}) is None
    # a batch script or salloc shell (no srun step) is one process
    assert resolve_processes({}, {"SLURM_NTASKS": "8", "SLURM_JOB_ID": "1"}) is None
    with pytest.raises(ConfigError, match=r"process_id 2 is not in \[0, 2\)"):
        resolve_processes({"coordinator": "h:1", "num_processes": 2, "process_id": 2})
    with pytest.raises(ConfigError, match="must be host:port"):
        resolve_processes({"coordinator": "h", "num_processes": 2, "process_id": 0})
    with pytest.raises(ConfigError, match="unknown key 'port'"):
        resolve_processes({"port": 1})


def test_unreachable_coordinator_times_out_with_one_line():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    with pytest.raises(
        ConfigError, match=f"cannot reach the coordinator 127.0.0.1:{port} within 1 s"
    ):
        initialize(Processes(f"127.0.0.1:{port}", 2, 1, 1.0))
    assert time.time() - t0 < 30


def test_too_many_devices_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(
        ConfigError, match="asks for 3 devices but 1 CPU device is present"
    ):
        make_mesh(3)
    assert make_mesh(1) is None and make_mesh("auto") is None
    raw = {"model": {"name": "pair", "cutoff": 4.0}, "train": {"devices": 3}}
    from matml.demo.emt_copper import make_emt_copper

    with pytest.raises(ConfigError, match="field train.devices: asks for 3"):
        train_from_config(raw, tmp_path / "out", progress=False,
                          train_atoms=make_emt_copper(4))  # fmt: skip
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="'auto' or a number of devices"):
        train_from_config({"train": {"devices": "many"}}, tmp_path / "o2")
