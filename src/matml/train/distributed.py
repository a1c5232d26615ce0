"""Devices and processes for training: a data-parallel mesh over the devices of one or
many hosts, and ``jax.distributed`` set up from the config, the environment or SLURM.

Where the processes come from, first found wins:

1. the config's ``distributed`` section (or the CLI's ``--coordinator``,
   ``--num-processes``, ``--process-id``);
2. ``MATML_COORDINATOR`` (``host:port``), ``MATML_NUM_PROCESSES``, ``MATML_PROCESS_ID``;
3. SLURM, inside an ``srun`` step of several tasks: ``SLURM_STEP_NUM_TASKS`` (or
   ``SLURM_NTASKS``) > 1, ``SLURM_PROCID``, and the first host of
   ``SLURM_STEP_NODELIST`` as coordinator, on port ``MATML_COORDINATOR_PORT``
   (default 12000 + the job id modulo 4000). A batch script or an ``salloc`` shell
   (no step node list) is one process.

Otherwise the run is one process.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass

from matml.errors import ConfigError

__all__ = [
    "Processes",
    "resolve_processes",
    "initialize",
    "is_main",
    "make_mesh",
    "slurm_hosts",
]

AXIS = "data"


@dataclass(frozen=True)
class Processes:
    coordinator: str  # host:port
    num_processes: int
    process_id: int
    timeout: float = 300.0  # seconds to wait for every process to connect
    source: str = "config"


def slurm_hosts(nodelist: str) -> list[str]:
    """Host names of a SLURM node list (``"gpu[01-03,07],login1"`` -> 5 names)."""
    hosts = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", nodelist):
        m = re.fullmatch(r"([^\[]+)\[([^\]]*)\]", part)
        if not m:
            hosts.append(part)
            continue
        prefix, ranges = m.groups()
        for r in ranges.split(","):
            if "-" in r:
                a, b = r.split("-")
                hosts += [f"{prefix}{i:0{len(a)}d}" for i in range(int(a), int(b) + 1)]
            else:
                hosts.append(prefix + r)
    return hosts


def resolve_processes(
    section: dict | None = None, env: dict | None = None
) -> Processes | None:
    """The multi-process settings of a run, or ``None`` for one process."""
    env = os.environ if env is None else env
    section = dict(section or {})
    unknown = set(section) - {"coordinator", "num_processes", "process_id", "timeout"}
    if unknown:
        raise ConfigError(
            f"unknown key {sorted(unknown)[0]!r}; known: coordinator, num_processes, "
            "process_id, timeout",
            field="distributed",
        )
    timeout = float(section.get("timeout") or env.get("MATML_INIT_TIMEOUT") or 300)
    given = {k: section.get(k) for k in ("coordinator", "num_processes", "process_id")}
    source = "config"
    if given["coordinator"] is None and env.get("MATML_COORDINATOR"):
        given = {
            "coordinator": env.get("MATML_COORDINATOR"),
            "num_processes": env.get("MATML_NUM_PROCESSES"),
            "process_id": env.get("MATML_PROCESS_ID"),
        }
        source = "environment (MATML_*)"
    elif given["coordinator"] is None and _slurm_tasks(env) > 1:
        nodes = env["SLURM_STEP_NODELIST"]
        port = env.get("MATML_COORDINATOR_PORT") or str(
            12000 + int(env.get("SLURM_JOB_ID", "0") or 0) % 4000
        )
        given = {
            "coordinator": f"{slurm_hosts(nodes)[0]}:{port}",
            "num_processes": _slurm_tasks(env),
            "process_id": env.get("SLURM_PROCID"),
        }
        source = "SLURM"
    if given["coordinator"] is None:
        if given["num_processes"] not in (None, 1, "1"):
            raise ConfigError(
                "num_processes > 1 needs a coordinator (host:port)",
                field="distributed.coordinator",
            )
        return None
    for k in ("num_processes", "process_id"):
        try:
            given[k] = int(given[k])
        except (TypeError, ValueError):
            raise ConfigError(
                f"must be an integer, not {given[k]!r} (from {source})",
                field=f"distributed.{k}",
            ) from None
    n, pid = given["num_processes"], given["process_id"]
    if n < 1 or not 0 <= pid < n:
        raise ConfigError(
            f"process_id {pid} is not in [0, {n}) (from {source})",
            field="distributed.process_id",
        )
    if not re.fullmatch(r"[^:\s]+:\d+", str(given["coordinator"])):
        raise ConfigError(
            f"must be host:port, not {given['coordinator']!r} (from {source})",
            field="distributed.coordinator",
        )
    return Processes(str(given["coordinator"]), n, pid, timeout, source)


def _slurm_tasks(env) -> int:
    """Tasks of the SLURM step this process is in (1 outside an srun step)."""
    if "SLURM_STEP_NODELIST" not in env or "SLURM_PROCID" not in env:
        return 1
    n = env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or "1"
    try:
        return int(n)
    except ValueError:
        return 1


def _wait_for(coordinator: str, timeout: float) -> None:
    """Wait until the coordinator accepts a TCP connection (JAX's own wait ends the
    process with an abort when it times out, so matml checks first)."""
    host, port = coordinator.rsplit(":", 1)
    t0 = time.monotonic()
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=2.0):
                return
        except OSError as err:
            if time.monotonic() - t0 > timeout:
                raise ConfigError(
                    f"cannot reach the coordinator {coordinator} within "
                    f"{timeout:g} s ({err.strerror or err}): is process 0 running "
                    "there?",
                    field="distributed.coordinator",
                ) from None
            time.sleep(0.2)


_STARTED: Processes | None = None


def initialize(procs: Processes | None) -> None:
    """Start ``jax.distributed`` for ``procs`` (nothing for one process). Call it before
    any other JAX work; calling it again with the same settings does nothing."""
    global _STARTED
    if procs is None or procs.num_processes == 1:
        return
    if _STARTED is not None:
        if _STARTED != procs:
            raise ConfigError("jax.distributed is running with other settings")
        return
    import jax

    try:  # collectives between processes on CPUs (no effect on GPUs)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):  # pragma: no cover - older jax
        pass
    if procs.process_id != 0:
        _wait_for(procs.coordinator, procs.timeout)
    else:
        host, port = procs.coordinator.rsplit(":", 1)
        with socket.socket() as s:
            try:
                s.bind(("", int(port)))
            except OSError as err:
                raise ConfigError(
                    f"process 0 cannot listen on port {port} ({err.strerror}): "
                    "choose another",
                    field="distributed.coordinator",
                ) from None
    jax.distributed.initialize(
        coordinator_address=procs.coordinator,
        num_processes=procs.num_processes,
        process_id=procs.process_id,
        initialization_timeout=max(int(procs.timeout), 1),
    )
    _STARTED = procs


def is_main() -> bool:
    """Whether this process writes the run's files (process 0)."""
    import jax

    return jax.process_index() == 0


def make_mesh(devices="auto"):
    """A one-axis data-parallel :class:`jax.sharding.Mesh` over ``devices`` (``"auto"``:
    all; ``N``: the first N, one process only), or ``None`` when that is one device."""
    import jax
    import numpy as np

    present = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    if devices in (None, "auto"):
        n = len(present)
    else:
        try:
            n = int(devices)
        except (TypeError, ValueError):
            raise ConfigError(
                f"must be 'auto' or a number of devices, not {devices!r}",
                field="train.devices",
            ) from None
        if n < 1:
            raise ConfigError("must be at least 1", field="train.devices")
        if n > len(present):
            kind = present[0].platform.upper()
            raise ConfigError(
                f"asks for {n} devices but {len(present)} {kind} "
                f"device{'s are' if len(present) > 1 else ' is'} present",
                field="train.devices",
            )
        if jax.process_count() > 1 and n != len(present):
            raise ConfigError(
                f"a run of {jax.process_count()} processes uses all their "
                f"{len(present)} devices: set 'auto' or {len(present)}",
                field="train.devices",
            )
    if n == 1 and jax.process_count() == 1:
        return None
    return jax.sharding.Mesh(np.array(present[:n]), (AXIS,))
