"""Speed of matml's potentials: training steps/s and energy+forces+stress inference µs/atom.

For each model in ``MODELS`` and each rattled diamond Si cell (64 and 512 atoms, the cells of
``../shared/anchors/mace_speed.py``), float32:

- **train**: steps/s of the trainer's own jitted step (loss on energy and forces, no stress;
  AdamW, EMA) on a batch of distinct rattled cells, after compilation; the first call
  (trace + compile + run) is reported separately as ``compile_s``;
- **bare**: the jitted ``predict`` (energy, forces, stress) on a graph already on the device;
- **calculator**: ``MatmlCalculator(skin=0)`` through ASE, positions moved every step as in
  MD, so the neighbour list (vesin), padding and host->device transfer are redone every
  step -- the protocol of the anchors (mace-torch, mlip, nequix), whose numbers this figure
  compares with;
- **calculator_verlet**: the same with the calculator's default Verlet list (1 Å skin,
  reused while no atom has moved 0.5 Å; the pairs within the cutoff picked each step),
  what a user's MD run gets.

Timings: ``--repeats`` rounds after warm-up; each round times ``--steps`` calls one by one;
``median`` and ``min`` are over all calls, ``round_medians`` shows the spread between rounds.

    python benchmarks/speed.py [--threads 2] [--repeats 5] [--out benchmarks/results/speed.json]
        [--anchor mace=/path/to/venv-mace/bin/python] [--anchor mace:1=/path/...]

The anchor (the peer's own script in ``../shared/anchors``) runs as a subprocess in its own
interpreter, just after matml's measurements, so both are taken in one sitting.
"""

from __future__ import annotations

import argparse
import os

# XLA reads its flags once, at import: thread settings must come before jax is imported.
if __name__ == "__main__":
    _pre = argparse.ArgumentParser(add_help=False)
    _pre.add_argument("--threads", type=int, default=None)
    _threads = _pre.parse_known_args()[0].threads
    if _threads:
        cpus = sorted(os.sched_getaffinity(0))[:_threads]
        os.sched_setaffinity(0, cpus)
        if _threads == 1:
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "")
                + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            ).strip()

import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MATML_SHARED", HERE.parent / ".." / "shared")).resolve()

# One row per model; later models add entries here (name, registered model, its options).
MODELS = [
    {"name": "pair", "model": "pair", "cutoff": 5.0,
     "config": {"hidden": [32, 32], "embedding": 0}},
    {"name": "pair+eam", "model": "pair", "cutoff": 5.0,
     "config": {"hidden": [32, 32], "embedding": 8}},
    # the mlearn benchmark's defaults (matml.bench.mlearn.DEFAULT_CONFIGS)
    {"name": "descriptor", "model": "descriptor", "cutoff": 5.0,
     "config": {"max_order": 7, "max_degree": 3, "two_body": 16, "hidden": [64, 64]}},
    {"name": "linear", "model": "linear", "cutoff": 5.0,
     "config": {"max_order": 7, "max_degree": 3, "two_body": 16}},
    # MACE small (../shared/anchors/mace_speed.py's hyperparameters)
    {"name": "mace-small", "model": "mace", "cutoff": 5.0,
     "config": {"channels": 32, "hidden_irreps": "0e + 1o", "max_ell": 3,
                "num_interactions": 2, "correlation": 3, "n_basis": 8,
                "radial_hidden": [64, 64, 64]}},
    # nequix's "small" and "wide" (../shared/anchors/nequix_speed.py), in its design:
    # the first convolution reads the one-hot species (embedding_channels: species),
    # so 26,914 and 76,386 parameters to nequix's 26,945 and 76,481
    {"name": "nequip-small", "model": "nequip", "cutoff": 5.0,
     "config": {"channels": 32, "hidden_irreps": "0e + 1o", "max_ell": 3,
                "num_interactions": 2, "n_basis": 8, "radial_hidden": [64, 64, 64],
                "embedding_channels": "species"}},
    {"name": "nequip-wide", "model": "nequip", "cutoff": 5.0,
     "config": {"channels": 96, "hidden_irreps": "0e + 1o", "max_ell": 3,
                "num_interactions": 2, "n_basis": 8, "radial_hidden": [64, 64, 64],
                "embedding_channels": "species"}},
]  # fmt: skip

# (repetitions of the 8-atom cubic cell, training batch size): 64 and 512 atoms.
CELLS = [(2, 8), (4, 1)]


def si_cell(n_rep: int, seed: int = 0):
    """Diamond Si, a = 5.43 Å, cubic cell repeated ``n_rep`` times, rattled by 0.02 Å."""
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat(n_rep)
    atoms.rattle(0.02, seed=seed)
    return atoms


def stats(times: list[list[float]], n_atoms: int) -> dict:
    """Per-call seconds of several rounds -> µs/atom/step (median, min, spread)."""
    flat = np.concatenate([np.asarray(t) for t in times])
    us = 1e6 / n_atoms
    return {
        "us_per_atom_step_median": round(float(np.median(flat)) * us, 3),
        "us_per_atom_step_min": round(float(np.min(flat)) * us, 3),
        "round_medians_us_per_atom_step": [
            round(float(np.median(t)) * us, 3) for t in times
        ],
        "ms_per_step_median": round(1e3 * float(np.median(flat)), 4),
    }


def xla_flops(fn, *args) -> float:
    """Floating-point operations of one call, from the compiled function's cost analysis
    (XLA's count: arithmetic of every op, gathers and scatters move data and count 0)."""
    cost = fn.lower(*args).compile().cost_analysis()
    if isinstance(cost, list | tuple):
        cost = cost[0]
    return float(cost.get("flops", float("nan")))


def machine_peak() -> dict:
    """The machine's float32 peak: nominal (cores x clock x FMA lanes, from /proc/cpuinfo)
    and what XLA reaches on a dense 2048^3 matmul here (best of 5)."""
    import jax
    import jax.numpy as jnp

    ghz, wide = None, False
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz") and ghz is None:
                ghz = float(line.split(":")[1]) / 1e3
            if line.startswith("flags"):
                wide = " avx512f " in line
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    # two FMA ports per core, 16 (AVX-512) or 8 (AVX2) float32 lanes, 2 flops per FMA
    lanes = 16 if wide else 8
    nominal = cores * ghz * 2 * lanes * 2 if ghz else None
    n = 2048
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda x, y: x @ y)
    f(a, a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        f(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return {
        "nominal_gflops": round(nominal, 1) if nominal else None,
        "nominal_basis": f"{cores} cores x {ghz} GHz x 2 FMA ports x {lanes} lanes x 2",
        "matmul_gflops": round(2 * n**3 / best / 1e9, 1),
    }


def n_params(potential) -> int:
    import jax
    from flax import nnx

    leaves = jax.tree_util.tree_leaves(nnx.state(potential, nnx.Param))
    return int(sum(x.size for x in leaves))


def make_potential(spec: dict, dtype):
    from matml.potential import Potential

    return Potential(spec["model"], ["Si"], spec["cutoff"], spec["config"], dtype=dtype)


def time_training(spec: dict, n_rep: int, batch: int, repeats: int, steps: int):
    """Steps/s of the trainer's jitted step on one batch of ``batch`` rattled cells."""
    import jax
    import jax.numpy as jnp

    from matml.data import Buckets, Dataset, GraphLoader
    from matml.train import TrainConfig, Trainer

    rng = np.random.default_rng(1)
    atoms = []
    for k in range(batch):
        a = si_cell(n_rep, seed=100 + k)
        a.info["energy"] = -5.4 * len(a) + rng.normal()
        a.arrays["forces"] = rng.normal(scale=0.5, size=(len(a), 3))
        atoms.append(a)
    pot = make_potential(spec, jnp.float32)
    ds = Dataset.from_atoms(atoms, spec["cutoff"], ["Si"])
    cfg = TrainConfig(batch_size=batch, forces_weight=10.0, stress_weight=0.0)
    trainer = Trainer(pot, cfg, progress=False, dtype=jnp.float32)
    # the step the trainer's fit() runs (same function, same padding rules)
    buckets = Buckets.for_dataset(ds, batch, cfg.n_buckets)
    graph = next(iter(GraphLoader(ds, batch, buckets=buckets))).to_jax(jnp.float32)
    trainer.prepare(steps_per_epoch=100)

    def step(i):
        trainer.step(graph)
        jax.block_until_ready(trainer.state)

    t0 = time.perf_counter()
    step(0)
    compile_s = time.perf_counter() - t0
    for i in range(3):  # warm-up
        step(i + 1)
    rounds = []
    for _ in range(repeats):
        t = []
        for i in range(steps):
            t0 = time.perf_counter()
            step(i)
            t.append(time.perf_counter() - t0)
        rounds.append(t)
    flat = np.concatenate(rounds)
    return {
        "batch_structures": batch,
        "batch_atoms": int(sum(len(a) for a in atoms)),
        "padded_nodes": int(graph.num_nodes),
        "padded_edges": int(graph.num_edges),
        "compile_s": round(compile_s, 3),
        "steps_per_s_median": round(1.0 / float(np.median(flat)), 2),
        "steps_per_s_max": round(1.0 / float(np.min(flat)), 2),
        "round_steps_per_s": [round(1.0 / float(np.median(t)), 2) for t in rounds],
        "atoms_per_s_median": round(len(atoms[0]) * batch / float(np.median(flat))),
    }


def time_inference(spec: dict, n_rep: int, repeats: int, steps: int):
    """Energy+forces+stress: bare jitted call, and through the ASE calculator."""
    import jax.numpy as jnp
    from flax import nnx

    from matml.calculator import MatmlCalculator
    from matml.data import Structure, collate
    from matml.potential import predict_fn

    pot = make_potential(spec, jnp.float32)
    atoms = si_cell(n_rep)
    n = len(atoms)

    # bare: the graph the calculator builds (same padding), once, already on the device
    calculator = MatmlCalculator(pot, dtype=jnp.float32, skin=0.0)
    s = Structure.from_atoms(atoms, pot.cutoff, pot.species)
    n_node, n_edge = calculator.padded_sizes(s.n_node, s.n_edge)
    graph = collate([s], n_node, n_edge, 2).to_jax(jnp.float32)
    # what the calculator runs (with its radial tables, where the model has them)
    graphdef, state = nnx.split(calculator.evaluated)
    fn = predict_fn(graphdef, True)
    t0 = time.perf_counter()
    fn(state, graph).forces.block_until_ready()
    compile_s = time.perf_counter() - t0
    flops = xla_flops(fn, state, graph)
    for _ in range(3):
        fn(state, graph).forces.block_until_ready()
    bare = []
    for _ in range(repeats):
        t = []
        for _ in range(steps):
            t0 = time.perf_counter()
            fn(state, graph).forces.block_until_ready()
            t.append(time.perf_counter() - t0)
        bare.append(t)

    # calculator: a new geometry each step (as MD); with skin 0 everything is redone,
    # with the default skin the neighbour list is reused
    def through(calc):
        atoms.calc = calc
        for _ in range(3):
            atoms.positions += 1e-4
            atoms.get_stress()
        times = []
        for _ in range(repeats):
            t = []
            for _ in range(steps):
                atoms.positions += 1e-4
                t0 = time.perf_counter()
                atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
                t.append(time.perf_counter() - t0)
            times.append(t)
        return times

    calc = through(calculator)
    verlet = MatmlCalculator(pot, dtype=jnp.float32)
    calc_verlet = through(verlet)
    return {
        "atoms": n,
        "edges": s.n_edge,
        "padded_nodes": int(graph.num_nodes),
        "padded_edges": int(graph.num_edges),
        "compile_s": round(compile_s, 3),
        "bare": stats(bare, n),
        "calculator": stats(calc, n),
        "calculator_verlet": stats(calc_verlet, n),
        "calculator_verlet_skin": verlet.neighbors.skin,
        "calculator_shapes_compiled": len(calculator.shapes_seen),
        "radial_table": calculator.radial_table,
        "flops_per_step": flops,
        "flops_per_atom_step": round(flops / n),
    }


def machine_info(threads: int | None) -> dict:
    import jax

    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import flax

    return {
        "nproc": os.cpu_count(),
        "cpus_used": len(os.sched_getaffinity(0)),
        "threads_option": threads,
        "cpu": model,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jax.lib.__version__ if hasattr(jax.lib, "__version__") else None,
        "flax": flax.__version__,
        "backend": jax.default_backend(),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "dtype": "float32",
    }


def run_anchor(name: str, python: str, threads: int | None, steps: int) -> dict:
    """Run the peer's anchor script in its own interpreter; return its JSON."""
    script = SHARED / "anchors" / f"{name}_speed.py"
    if not script.exists():
        raise SystemExit(f"anchor script not found: {script}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "anchor.json"
        cmd = [python, str(script), "--out", str(out), "--steps", str(steps)]
        env = dict(os.environ)
        if name == "mace":  # torch's threads (default: the cores XLA may use)
            cmd += ["--threads", str(threads or len(os.sched_getaffinity(0)))]
        if name == "nequix":  # the sizes matml's nequip rows match
            cmd += ["--sizes", "small,wide"]
        if name in ("nequix", "mlip"):  # JAX peers: CPU only, as matml here
            env["JAX_PLATFORMS"] = "cpu"
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        result = json.loads(out.read_text())
    result["command"] = " ".join(cmd[:2] + cmd[4:])
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    return result


def compare(rows: list[dict], anchor: dict) -> list[dict]:
    """matml's calculator time over the peer's, per model and cell (< 1: matml faster).

    The one MACE of mace-torch and of mlip is compared with matml's ``mace-*`` rows
    (or, without one, every row: the pair models' baseline); nequix's sizes ``small``
    and ``wide`` with matml's ``nequip-small`` and ``nequip-wide``. Through the ASE
    calculator in every case (mlip's and nequix's ``ase_us_per_atom_step``)."""

    def calculator(cells):
        return {
            c["atoms"]: c.get("us_per_atom_step", c.get("ase_us_per_atom_step"))
            for c in cells
        }

    by_model = {f"nequip-{m['size']}": calculator(m["cells"])
                for m in anchor.get("models", [])}  # fmt: skip
    if anchor.get("cells"):
        macs = [r["model"] for r in rows if r["model"].startswith("mace")]
        for name in macs or [r["model"] for r in rows]:
            by_model[name] = calculator(anchor["cells"])
    out = []
    for r in rows:
        n = r["inference"]["atoms"]
        peer = by_model.get(r["model"], {})
        if n in peer:
            m = r["inference"]["calculator"]["us_per_atom_step_median"]
            out.append({
                "model": r["model"], "atoms": n,
                "matml_us_per_atom_step": m,
                "peer_us_per_atom_step": round(peer[n], 3),
                "time_ratio_matml_over_peer": round(m / peer[n], 4),
                "speedup_vs_peer": round(peer[n] / m, 1),
            })  # fmt: skip
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="CPU cores for XLA")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds")
    p.add_argument("--steps", type=int, default=20, help="calls per round")
    p.add_argument("--out", default=str(HERE / "results" / "speed.json"))
    p.add_argument("--models", nargs="*", help="subset of model names")
    p.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="NAME[:THREADS]=PYTHON",
        help="also run ../shared/anchors/NAME_speed.py with this interpreter "
        "(repeatable; THREADS overrides --threads for the peer)",
    )
    p.add_argument("--anchor-steps", type=int, default=10, help="peer's timed steps")
    a = p.parse_args(argv)
    anchors = []
    for item in a.anchor:
        label, sep, python = item.partition("=")
        name, _, threads = label.partition(":")
        if not sep or not (threads.isdigit() or not threads):
            p.error(f"--anchor wants NAME[:THREADS]=PYTHON, got {item!r}")
        anchors.append((label, name, python, int(threads) if threads else a.threads))

    info = machine_info(a.threads)
    info["peak"] = machine_peak()
    t_start = time.perf_counter()
    rows = []
    for spec in MODELS:
        if a.models and spec["name"] not in a.models:
            continue
        for n_rep, batch in CELLS:
            row = {
                "model": spec["name"],
                "model_config": {"name": spec["model"], "cutoff": spec["cutoff"]}
                | spec["config"],
                "n_params": None,
                "train": time_training(spec, n_rep, batch, a.repeats, a.steps),
                "inference": time_inference(spec, n_rep, a.repeats, a.steps),
            }
            row["n_params"] = n_params(make_potential(spec, None))
            rows.append(row)
            inf = row["inference"]
            # achieved rate on the bare call, as a fraction of the machine's peak
            rate = inf["flops_per_step"] / (inf["bare"]["ms_per_step_median"] / 1e3)
            inf["bare_gflops"] = round(rate / 1e9, 2)
            for key in ("nominal", "matmul"):
                peak = info["peak"][f"{key}_gflops"]
                inf[f"bare_fraction_of_{key}_peak"] = (
                    round(rate / 1e9 / peak, 4) if peak else None
                )
            print(
                f"{spec['name']:>10} {inf['atoms']:4d} atoms: "
                f"train {row['train']['steps_per_s_median']:8.1f} steps/s "
                f"(batch {batch}, compile {row['train']['compile_s']:.1f} s) | "
                f"bare {inf['bare']['us_per_atom_step_median']:7.2f} "
                f"calculator {inf['calculator']['us_per_atom_step_median']:7.2f} "
                f"(Verlet {inf['calculator_verlet']['us_per_atom_step_median']:.2f}) "
                f"µs/atom/step | {inf['flops_per_atom_step'] / 1e6:.2f} MFLOP/atom, "
                f"{inf['bare_fraction_of_matmul_peak']:.1%} of the matmul peak",
                flush=True,
            )
    result = {
        "benchmark": "speed",
        "cells": "diamond Si, a=5.43 Å, cubic x2 (64 atoms) and x4 (512), rattle 0.02",
        "calculator_protocol": "positions moved each step: 'calculator' with skin 0 "
        "(neighbour list, padding and transfer redone every step, as the anchors), "
        "'calculator_verlet' with the default Verlet list (1 Å skin)",
        "training_protocol": "trainer's jitted step (energy + forces loss, AdamW, "
        "EMA) on one batch kept on the device",
        "machine": info,
        "matml_seconds": round(time.perf_counter() - t_start, 1),
        "rows": rows,
        "anchors": {},
    }
    for label, name, python, threads in anchors:
        print(f"running the {label} anchor ...", flush=True)
        anchor = run_anchor(name, python, threads, a.anchor_steps)
        anchor["comparison"] = compare(rows, anchor)
        result["anchors"][label] = anchor
        for c in anchor["comparison"]:
            print(
                f"{c['model']:>10} {c['atoms']:4d} atoms: matml "
                f"{c['matml_us_per_atom_step']:.2f} vs {label} "
                f"{c['peer_us_per_atom_step']:.1f} µs/atom/step "
                f"(matml/{label} = {c['time_ratio_matml_over_peer']:.4f})",
                flush=True,
            )
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    from matml._files import write_json

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(a.out, result)
    print(f"wrote {a.out}")
    return result


if __name__ == "__main__":
    main()
