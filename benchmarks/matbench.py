"""matbench v0.1 composition tasks with matml's default table pipeline.

Usage (from the repository root, with matml importable)::

    python benchmarks/matbench.py --task expt_gap
    python benchmarks/matbench.py --task steels

Reads ``../shared/data/matbench/<task>.csv`` (or ``--data-dir``), runs the published
protocol (5-fold ``KFold(shuffle=True, random_state=18012019)`` over the rows in file
order) and writes ``benchmarks/results/matbench_<task>.json``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from matml._files import write_json
from matml.tabular.bench import run_matbench

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MATML_SHARED", HERE.parent / ".." / "shared")).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="expt_gap")
    parser.add_argument("--data-dir", default=str(SHARED / "data" / "matbench"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-estimators", type=int, default=500)
    args = parser.parse_args()
    result = run_matbench(
        args.task,
        args.data_dir,
        None,
        n_jobs=args.n_jobs,
        n_estimators=args.n_estimators,
    )
    result["command"] = (
        f"python benchmarks/matbench.py --task {args.task} --n-jobs {args.n_jobs} "
        f"--n-estimators {args.n_estimators}"
    )
    path = HERE / "results" / f"matbench_{args.task}.json"
    write_json(path, result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
