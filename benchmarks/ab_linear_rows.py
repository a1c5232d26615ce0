"""Time the linear fit's rows per structure: the invariants' full Jacobian (a stencil
along every moment) against their derivatives along each edge's three moment
tangents, alternated in one process, on mlearn training structures.

    python benchmarks/ab_linear_rows.py --element Si [--max-order 7] [--structures 6]

Prints one JSON line: seconds per structure of each way (median of three rounds),
their ratio and the largest relative difference of the rows. The data folder is
``$MATML_SHARED/data/mlearn`` (default ``../shared``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from matml.data import Dataset
from matml.io import read_mlearn
from matml.potential import Potential
from matml.train import linear

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MATML_SHARED", HERE.parent / ".." / "shared")).resolve()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--element", default="Si")
    ap.add_argument("--max-order", type=int, default=7)
    ap.add_argument("--structures", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    atoms = read_mlearn(SHARED / "data" / "mlearn" / a.element / "training.json")
    pick = np.linspace(0, len(atoms) - 1, a.structures).astype(int)
    atoms = [atoms[i] for i in pick]
    options = {"max_order": a.max_order, "max_degree": 3, "two_body": 16}
    pot = Potential("linear", [a.element], 5.0, options, e0=np.zeros(1), scale=1.0,
                    shift=0.0, rngs=0)  # fmt: skip
    graphdef, state = nnx.split(pot)
    data = Dataset.from_atoms(atoms, 5.0, [a.element])
    graphs = [g.cast(np.float64) for g in linear._batches(data)]
    times: dict = {}
    with jax.enable_x64(True):
        fns = {}
        for mode in (False, True):
            linear.DIRECTIONAL = mode
            linear._rows_fn.cache_clear()
            fns[mode] = linear._rows_fn(graphdef)
            for g in graphs:  # compile every shape
                jax.block_until_ready(fns[mode](state, g))
        full, along = (jax.device_get(fns[m](state, graphs[0])) for m in (False, True))
        diff = max(
            float(np.abs(x - y).max() / np.abs(x).max())
            for x, y in zip(full, along, strict=True)
        )
        for _ in range(a.rounds):
            for mode in (False, True):
                t = time.perf_counter()
                for g in graphs:
                    jax.block_until_ready(fns[mode](state, g))
                times.setdefault(mode, []).append(
                    (time.perf_counter() - t) / len(graphs)
                )
    med = {m: float(np.median(v)) for m, v in times.items()}
    print(json.dumps({
        "element": a.element, "max_order": a.max_order, "structures": len(graphs),
        "nodes": [int(g.num_nodes) for g in graphs],
        "edges": [int(g.num_edges) for g in graphs],
        "s_per_structure_full_jacobian": round(med[False], 4),
        "s_per_structure_directional": round(med[True], 4),
        "ratio": round(med[True] / med[False], 3), "max_rel_diff": diff,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
