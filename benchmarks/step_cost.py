"""XLA's cost of the compiled training step (FLOPs, bytes accessed, HLO lines) of the
pair, nequip and descriptor potentials on one batch of 8 EMT Cu cells (32 atoms each):
a deterministic before/after check that timings on a shared machine cannot give.

    PYTHONPATH=/path/to/other/tree/src python benchmarks/step_cost.py --label before
    python benchmarks/step_cost.py --label after   # both into benchmarks/results/step_cost.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = {
    "pair": {},
    "nequip": {"channels": 8, "radial_hidden": [16]},
    "descriptor": {"max_order": 5, "max_degree": 3, "hidden": [32]},
}


def copper_batch():
    """The benchmark's data: 8 rattled EMT Cu cells of 32 atoms (one batch of 8)."""
    from ase.build import bulk

    from matml.data import Dataset
    from matml.demo.emt_copper import label

    rng = np.random.default_rng(0)
    atoms = []
    for _ in range(8):
        a = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        atoms.append(label(a))
    return Dataset.from_atoms(atoms, 4.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--label", required=True)
    p.add_argument("--out", type=Path, default=HERE / "results" / "step_cost.json")
    args = p.parse_args()

    import matml
    from matml.data import GraphLoader
    from matml.potential import Potential, fit_e0
    from matml.train.config import TrainConfig
    from matml.train.loss import zero_sums
    from matml.train.trainer import Trainer

    ds = copper_batch()
    rows = {}
    for name, cfg in MODELS.items():
        pot = Potential(name, ["Cu"], 4.5, cfg, e0=fit_e0(ds))
        tr = Trainer(pot, TrainConfig(batch_size=8, epochs=1), None, progress=False)
        tr.prepare(1)
        graph = next(iter(GraphLoader(ds, 8)))
        props = getattr(tr, "properties", None)
        sums = zero_sums(tr.dtype) if props is None else zero_sums(tr.dtype, props)
        args_ = (tr.state, tr._consts, tr._feed(graph), np.asarray(0), sums,
                 tr._weights)  # fmt: skip
        compiled = tr._fns[0].lower(*args_).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        rows[name] = {
            "flops": float(cost.get("flops", -1)),
            "bytes_accessed": float(cost.get("bytes accessed", -1)),
            "hlo_lines": compiled.as_text().count("\n"),
        }
    record = json.loads(args.out.read_text()) if args.out.exists() else {}
    record[args.label] = {"matml": matml.__file__, "models": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
