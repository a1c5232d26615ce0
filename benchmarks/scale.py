"""Scale-out: training steps/s against the number of devices, and resident memory while
training streams from a graph store, against a store ten times smaller.

    python benchmarks/scale.py [--devices 1,2] [--model nequip] [--atoms 2000000]
        [--workdir DIR] [--out benchmarks/results/scale.json]

**Devices.** Each device count runs in its own process. On a CPU the devices are XLA's
forced host devices (``--xla_force_host_platform_device_count``): they share this
machine's cores, so this measures the data-parallel machinery (one compile, gradients
summed across devices), not a speed-up; on GPUs they are the real ones. The global batch
is the same for every count (``--batch``), split across the devices; steps/s is over
``--steps`` steps after a warm-up epoch, and atoms/s counts real (unpadded) atoms.

**Memory.** Two stores of EMT copper (500-atom rattled, strained fcc cells, EMT energy,
forces and stress) are written with :class:`matml.data.store.StoreWriter`, ``--atoms``
and ``--atoms / 10`` atoms; then each is trained from for one epoch (the pair model,
batch 8) in a fresh process that samples its resident set size (``VmRSS``) every 50 ms.
Reported: peak and median RSS during the epoch, and the ratio large / small.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELL_REPEAT = 5  # 5x5x5 cubic fcc cells: 500 atoms
CELL_ATOMS = 4 * CELL_REPEAT**3
CUTOFF = 4.0


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler:
    """RSS every ``dt`` seconds in a thread."""

    def __init__(self, dt=0.05):
        self.dt, self.values, self._stop = dt, [], threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.values.append((time.perf_counter(), rss_mib()))
            time.sleep(self.dt)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


# --- children -------------------------------------------------------------------------
def child_speed(args) -> dict:
    import jax
    import numpy as np

    from matml.data import Dataset
    from matml.demo.emt_copper import make_emt_copper
    from matml.potential import Potential, fit_e0, fit_scale_shift
    from matml.train import TrainConfig, Trainer

    atoms = make_emt_copper(64, seed=0)
    ds = Dataset.from_atoms(atoms, CUTOFF, ["Cu"])
    e0 = fit_e0(ds)
    scale, shift = fit_scale_shift(ds, e0)
    options = json.loads(args.model_options)
    pot = Potential(args.model, ds.species, CUTOFF, options, e0=e0, scale=scale,
                    shift=shift, rngs=0)  # fmt: skip
    cfg = TrainConfig(batch_size=args.batch, devices=args.child_devices, n_buckets=1)
    trainer = Trainer(pot, cfg, progress=False)
    loader, _ = trainer._loaders(ds, None)
    trainer.prepare(len(loader))
    batches = list(loader)  # padded once: the timing is of the steps
    t0 = time.perf_counter()
    for g in batches:  # warm-up epoch (compiles)
        trainer.step(g)
    trainer.take_sums()
    compile_s = time.perf_counter() - t0
    n_atoms = sum(int(np.sum(g.n_node * g.graph_mask)) for g in batches)
    steps, t0 = 0, time.perf_counter()
    while steps < args.steps:
        for g in batches:
            trainer.step(g)
            steps += 1
    trainer.take_sums()  # waits for the device
    dt = time.perf_counter() - t0
    epochs = steps / len(batches)
    return {
        "devices": trainer.n_devices,
        "platform": jax.devices()[0].platform,
        "steps": steps,
        "steps_per_s": steps / dt,
        "atoms_per_s": n_atoms * epochs / dt,
        "first_epoch_s": compile_s,
        "compiles": trainer.compile_count(),
        "global_batch": args.batch,
    }


def child_stream(args) -> dict:
    from matml.data.store import GraphStore
    from matml.train.run import train_from_config

    store = GraphStore(args.child_stream)
    raw = {
        "seed": 0,
        "model": {"name": "pair", "cutoff": CUTOFF, "hidden": [16, 16], "embedding": 4},
        "data": {"train": str(store.path), "valid_fraction": 0.01},
        "train": {"epochs": 1, "batch_size": 8, "n_buckets": 1, "stress_weight": 1.0},
    }
    before = rss_mib()
    t0 = time.perf_counter()
    with Sampler() as s, tempfile.TemporaryDirectory() as out:
        res = train_from_config(raw, out, progress=False)
    dt = time.perf_counter() - t0
    import numpy as np

    rss = np.array([v for _, v in s.values])
    return {
        "store_atoms": store.header["n_atoms"],
        "store_structures": len(store),
        "store_edges": store.header["n_edges"],
        "store_mib": sum(f["bytes"] for f in store.header["files"].values()) / 2**20,
        "rss_before_mib": before,
        "rss_peak_mib": float(rss.max()),
        "rss_median_mib": float(np.median(rss)),
        "rss_last_mib": float(rss[-1]),
        "seconds": dt,
        "atoms_per_s": store.header["n_atoms"] * 0.99 / dt,
        "valid_energy_rmse_mev": res["valid"]["energy_rmse"],
    }


def child_prepare(args) -> dict:
    import numpy as np
    from ase.build import bulk

    from matml.data.store import StoreWriter
    from matml.demo.emt_copper import A_CU, label

    n_struct = max(args.child_atoms // CELL_ATOMS, 1)
    rng = np.random.default_rng(len(args.child_prepare))
    cell = bulk("Cu", "fcc", a=A_CU, cubic=True).repeat((CELL_REPEAT,) * 3)
    t0 = time.perf_counter()
    with Sampler() as s, StoreWriter(args.child_prepare, CUTOFF, overwrite=True) as w:
        chunk = []
        for k in range(n_struct):
            a = cell.copy()
            strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
            a.set_cell(a.cell[:] @ (0.5 * (strain + strain.T)), scale_atoms=True)
            a.positions += rng.normal(0, 0.06, a.positions.shape)
            chunk.append(label(a))
            if len(chunk) == 100 or k == n_struct - 1:
                w.add(chunk, source=f"emt-{k}")
                chunk = []
    return {
        "atoms": n_struct * CELL_ATOMS,
        "seconds": time.perf_counter() - t0,
        "rss_peak_mib": max(v for _, v in s.values),
    }


# --- parent ---------------------------------------------------------------------------
def _child(argv, env=None) -> dict:
    p = subprocess.run([sys.executable, __file__, *argv], capture_output=True,
                       text=True, env=env)  # fmt: skip
    if p.returncode:
        raise SystemExit(f"scale.py child {argv} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="1,2")
    ap.add_argument("--model", default="nequip")
    ap.add_argument("--model-options", default="{}")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--atoms", type=int, default=2_000_000)
    ap.add_argument(
        "--workdir", default=None, help="where the stores go (default: tmp)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the stores")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    ap.add_argument("--child-devices", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-stream", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-prepare", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-atoms", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_devices is not None:
        print(json.dumps(child_speed(args)))
        return
    if args.child_stream:
        print(json.dumps(child_stream(args)))
        return
    if args.child_prepare:
        print(json.dumps(child_prepare(args)))
        return

    counts = [int(x) for x in args.devices.split(",")]
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={max(counts)}"
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "command": " ".join(["python", "benchmarks/scale.py", *sys.argv[1:]]),
        "model": {"name": args.model, "options": json.loads(args.model_options)},
        "speed": [],
    }  # fmt: skip
    for d in counts:
        row = _child([*sys.argv[1:], "--child-devices", str(d)], env)
        print(f"devices {d}: {row['steps_per_s']:.2f} steps/s, "
              f"{row['atoms_per_s']:.0f} atoms/s ({row['platform']})", flush=True)  # fmt: skip
        result["speed"].append(row)
    if not args.skip_memory:
        work = Path(args.workdir or tempfile.mkdtemp(prefix="matml-scale-"))
        work.mkdir(parents=True, exist_ok=True)
        result["memory"] = {}
        for name, n in (("small", args.atoms // 10), ("large", args.atoms)):
            path = work / f"cu_{name}.store"
            prep = _child(["--child-prepare", str(path), "--child-atoms", str(n)])
            row = _child(["--child-stream", str(path)])
            row["prepare"] = prep
            print(f"store {name}: {row['store_atoms']:,} atoms, {row['store_mib']:.0f} "
                  f"MiB; prepare {prep['seconds']:.0f} s (peak RSS "
                  f"{prep['rss_peak_mib']:.0f} MiB); one epoch {row['seconds']:.0f} s, "
                  f"peak RSS {row['rss_peak_mib']:.0f} MiB", flush=True)  # fmt: skip
            result["memory"][name] = row
            if not args.keep:
                import shutil

                shutil.rmtree(path)
        m = result["memory"]
        m["peak_ratio_large_over_small"] = (
            m["large"]["rss_peak_mib"] / m["small"]["rss_peak_mib"]
        )
        m["atoms_ratio"] = m["large"]["store_atoms"] / m["small"]["store_atoms"]
        print(f"peak RSS large / small: {m['peak_ratio_large_over_small']:.3f} for "
              f"{m['atoms_ratio']:.0f}x the atoms")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
