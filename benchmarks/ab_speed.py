"""Before/after: ``benchmarks/speed.py`` of two source trees in one sitting, alternated.

    python benchmarks/ab_speed.py --before /tmp/before --after . \\
        [--models pair nequip-small] [--rounds 2] [--out benchmarks/results/ab.json]

Each tree's own ``speed.py`` runs with its own ``src`` first on ``PYTHONPATH``, in the
order A B A B ... (``--rounds`` of each), so both see the same machine load; the
summary keeps, per model, every run's training steps/s (median) and bare and
calculator µs/atom/step (median) at both cell sizes, and the ratio after / before of
their medians over runs. Make a ``before`` tree with ``git worktree add /tmp/before
COMMIT``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def one_run(tree: Path, models: list[str], repeats: int, steps: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speed.json"
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        cmd = [sys.executable, str(tree / "benchmarks" / "speed.py"), "--models",
               *models, "--repeats", str(repeats), "--steps", str(steps),
               "--out", str(out)]  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return json.loads(out.read_text())["rows"]


def summarise(rows: list[dict]) -> dict:
    out = {}
    for r in rows:
        cell = r["inference"]["atoms"]
        key = f"{r['model']}@{cell}"
        out[key] = {
            "train_steps_per_s": r["train"]["steps_per_s_median"],
            "bare_us_per_atom": r["inference"]["bare"]["us_per_atom_step_median"],
            "calculator_us_per_atom": r["inference"]["calculator"][
                "us_per_atom_step_median"
            ],
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", type=Path, required=True)
    p.add_argument("--after", type=Path, default=HERE.parent)
    p.add_argument("--models", nargs="*", default=["pair", "nequip-small"])
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", type=Path, default=HERE / "results" / "ab_speed.json")
    args = p.parse_args()
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    t0 = time.time()
    for k in range(args.rounds):
        for name in ("before", "after"):
            tree = getattr(args, name).resolve()
            rows = one_run(tree, args.models, args.repeats, args.steps)
            runs[name].append(summarise(rows))
            print(f"round {k} {name}: {json.dumps(runs[name][-1])}", flush=True)
    import numpy as np

    ratios = {}
    for key in runs["after"][0]:
        ratios[key] = {
            m: round(
                float(np.median([r[key][m] for r in runs["after"]]))
                / float(np.median([r[key][m] for r in runs["before"]])),
                3,
            )
            for m in runs["after"][0][key]
        }
    result = {
        "benchmark": "speed.py before and after, alternated in one sitting",
        "before": str(args.before),
        "after": str(args.after),
        "models": args.models,
        "runs": runs,
        "after_over_before_median": ratios,
        "note": "train_steps_per_s: higher is faster; µs/atom: lower is faster",
        "seconds": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
