"""Where a potential's training step spends its time: XLA's CPU profile of the compiled
step, each operation's time added to the matml source line that made it (forward or
backward pass), on one element of mlearn with ``matml bench mlearn``'s configuration
(the data folder defaults to ``$MATML_SHARED/data/mlearn``, ``../shared``).

    python benchmarks/profile_step.py --model mace --element Mo \\
        --data-dir ../shared/data/mlearn [--steps 10] [--top 25] [--out FILE.json]

The step is the trainer's own (loss of energies, forces and stress, its gradient,
AdamW and EMA), on the trainer's own padded batches. Operations run on two threads at
once where XLA finds them independent, so the profile's total may exceed the wall time
of a step, and an operation's time includes its waits for memory shared with the one
beside it; both totals are printed. An operation of ``jax``, flax or e3nn-jax code is
named by the innermost matml line that called it. The attribution is XLA's: a fusion
holds operations of several lines and is counted in full to the line of its root
operation.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MATML_SHARED", HERE.parent / ".." / "shared")).resolve()


def build_trainer(model: str, element: str, data_dir: Path, out_dir: Path):
    """A trainer of ``model`` on mlearn ``element`` (bench mlearn's configuration and
    validation split), and its padded training batches."""
    import jax.numpy as jnp

    from matml.bench.mlearn import default_config
    from matml.data import Dataset
    from matml.io import read_mlearn
    from matml.potential import Potential, fit_model_statistics, fit_scale_shift
    from matml.train.config import from_dict
    from matml.train.run import _e0_array
    from matml.train.trainer import Trainer

    cfg = from_dict(default_config(model))
    atoms = read_mlearn(data_dir / element / "training.json")
    species = sorted({s for a in atoms for s in a.get_chemical_symbols()})
    full = Dataset.from_atoms(atoms, cfg.model.cutoff, species)
    key = cfg.data.split_by
    labels = [str(a.info.get(key, "")) for a in atoms] if key else None
    train, valid = full.split(
        cfg.data.valid_fraction, seed=cfg.data.split_seed, labels=labels
    )
    e0 = _e0_array(cfg, train, species)
    scale, shift = fit_scale_shift(train, e0)
    dtype = jnp.float64 if cfg.dtype == "float64" else jnp.float32
    pot = Potential(cfg.model.name, species, cfg.model.cutoff, cfg.model.options,
                    e0=e0, scale=scale, shift=shift, dtype=dtype, rngs=cfg.seed)  # fmt: skip
    fit_model_statistics(pot, train, cfg.train.batch_size)
    trainer = Trainer(pot, cfg.train, out_dir, seed=cfg.seed, progress=False, dtype=dtype,
                      header={})  # fmt: skip
    loader, _ = trainer._loaders(train, valid)
    trainer.prepare(len(loader), cfg.train.epochs)
    return trainer, list(loader)


def source_map(hlo: str) -> dict[str, tuple[str, str]]:
    """HLO instruction name -> (its op_name, the innermost matml ``file:line function``
    of its stack), from the text of a compiled module (which lists its stack frames)."""
    tables = {
        "FileNames": {},
        "FunctionNames": {},
        "FileLocations": {},
        "StackFrames": {},
    }
    section, inst = None, {}
    for line in hlo.split("\n"):
        if line in tables:
            section = line
            continue
        m = re.match(r"^(\d+) (.*)$", line)
        if section and m:
            i, rest = int(m.group(1)), m.group(2)
            if section in ("FileNames", "FunctionNames"):
                tables[section][i] = rest.strip('"')
            else:
                tables[section][i] = {
                    k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", rest)
                }
            continue
        section = None
        m = re.match(
            r"^\s+(?:ROOT )?%([\w.\-]+) = .*?metadata=\{op_name=\"([^\"]*)\""
            r"(?: stack_frame_id=(\d+))?",
            line,
        )
        if m:
            inst.setdefault(m.group(1), (m.group(2), int(m.group(3) or 0)))
    files, funcs = tables["FileNames"], tables["FunctionNames"]
    locs, frames = tables["FileLocations"], tables["StackFrames"]

    def where(frame: int) -> str:
        chain, seen = [], set()
        while frame in frames and frame not in seen:
            seen.add(frame)
            loc = locs[frames[frame]["file_location_id"]]
            path = files[loc["file_name_id"]]
            chain.append((path, loc["line"], funcs[loc["function_name_id"]]))
            frame = frames[frame]["parent_frame_id"]
        skip = ("potential/autodiff.py", "train/trainer.py")
        for path, line, fn in chain:
            if "/matml/" in path and not path.endswith(skip):
                return f"{path.split('/matml/', 1)[1]}:{line} {fn}"
        return (
            f"{chain[0][0].split('/')[-1]}:{chain[0][1]} {chain[0][2]}"
            if chain
            else "?"
        )

    return {name: (op, where(sf)) for name, (op, sf) in inst.items()}


def profile(trainer, graphs, steps: int) -> dict:
    import jax

    from matml.train.trainer import zero_sums

    for g in graphs:  # compile, and one epoch to settle
        trainer.step(g)
    trainer.take_sums()
    batch = [graphs[i % len(graphs)] for i in range(steps)]
    t = time.perf_counter()
    for g in batch:
        trainer.step(g)
    trainer.take_sums()
    wall = (time.perf_counter() - t) / steps

    g = trainer._feed(graphs[0])
    args = (trainer.state, trainer._consts, g, np.asarray(trainer._steps),
            zero_sums(trainer.dtype, trainer.properties), trainer._weights)  # fmt: skip
    compiled = trainer._fns[0].lower(*args).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    names = source_map(compiled.as_text())

    with tempfile.TemporaryDirectory() as tmp:
        with jax.profiler.trace(tmp, create_perfetto_trace=True):
            for g in batch:
                trainer.step(g)
            trainer.take_sums()
        trace = sorted(Path(tmp).rglob("*.json.gz"))
        if not trace:
            raise SystemExit("the profiler wrote no trace")
        events = json.load(gzip.open(trace[-1]))
    events = events["traceEvents"] if isinstance(events, dict) else events
    by_line, by_pass = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("ph") != "X" or e.get("name") not in names:
            continue
        op, where = names[e["name"]]
        direction = "backward" if "transpose(" in op else "forward"
        by_line[(direction, where)] += e["dur"] / 1e3 / steps
        by_pass[direction] += e["dur"] / 1e3 / steps
    total = sum(by_pass.values())
    return {
        "wall_ms_per_step": wall * 1e3,
        "profiled_ms_per_step": total,
        "gflop_per_step": cost.get("flops", 0.0) / 1e9,
        "by_pass_ms": dict(by_pass),
        "lines": [
            {"pass": d, "where": w, "ms_per_step": v, "share": v / total}
            for (d, w), v in by_line.most_common()
        ],
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mace")
    p.add_argument("--element", default="Mo")
    p.add_argument("--data-dir", type=Path, default=SHARED / "data" / "mlearn")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    # the frames XLA keeps per operation (JAX's default, 10, can stop short of matml's
    # code under nested library calls); read when jax is first imported
    os.environ.setdefault("JAX_TRACEBACK_IN_LOCATIONS_LIMIT", "40")
    data = a.data_dir / a.element / "training.json"
    if not data.is_file():
        raise SystemExit(f"{data}: missing (give --data-dir, mlearn's layout)")
    from matml.errors import MatmlError

    with tempfile.TemporaryDirectory(prefix="matml-profile-") as tmp:
        try:
            trainer, graphs = build_trainer(a.model, a.element, a.data_dir, Path(tmp))
        except MatmlError as e:
            raise SystemExit(f"error: {e}") from None
        res = profile(trainer, graphs, a.steps)
    n_atoms = int(sum(np.asarray(g.node_mask).sum() for g in graphs)) / len(graphs)
    res.update(model=a.model, element=a.element, steps=a.steps,
               atoms_per_batch=n_atoms, shape=list(graphs[0].senders.shape))  # fmt: skip
    print(f"{a.model} on mlearn {a.element}: {res['wall_ms_per_step']:.1f} ms a step "
          f"(wall), {res['profiled_ms_per_step']:.1f} ms of operations "
          f"({', '.join(f'{k} {v:.1f}' for k, v in res['by_pass_ms'].items())}), "
          f"{res['gflop_per_step']:.2f} GFLOP")  # fmt: skip
    for r in res["lines"][: a.top]:
        print(f"{r['ms_per_step']:8.2f} ms {100 * r['share']:5.1f} %  "
              f"{r['pass']:8s} {r['where']}")  # fmt: skip
    if a.out:
        a.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
