"""K training steps of one potential on ``step_cost.py``'s batch (8 EMT Cu cells of 32
atoms), after one compiling step: a whole-process timing to run against another tree.

    python benchmarks/train_steps.py pair 600
    PYTHONPATH=/path/to/other/tree/src python benchmarks/train_steps.py pair 600

Alternate the two (A B A B ..., after a warm-up) under any whole-process timer
(``/usr/bin/time -v``, hyperfine) and quote the median ratio; the script also prints
its own steps/s of the timed loop.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

MODELS = {"pair": {}, "nequip": {"channels": 8, "radial_hidden": [16]}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(MODELS))
    p.add_argument("steps", type=int)
    args = p.parse_args()

    import jax
    from step_cost import copper_batch  # (this folder is on the path of a script)

    from matml.data import GraphLoader
    from matml.potential import Potential, fit_e0
    from matml.train.config import TrainConfig
    from matml.train.loss import zero_sums
    from matml.train.trainer import Trainer

    ds = copper_batch()
    pot = Potential(args.model, ["Cu"], 4.5, MODELS[args.model], e0=fit_e0(ds))
    tr = Trainer(pot, TrainConfig(batch_size=8, epochs=1), None, progress=False)
    tr.prepare(1)
    graph = tr._feed(next(iter(GraphLoader(ds, 8))))
    props = getattr(tr, "properties", None)
    sums = zero_sums(tr.dtype) if props is None else zero_sums(tr.dtype, props)
    step, state = tr._fns[0], tr.state
    state, acc = step(state, tr._consts, graph, np.asarray(0), sums, tr._weights)
    jax.block_until_ready(acc)
    t = time.perf_counter()
    for i in range(args.steps):
        state, acc = step(state, tr._consts, graph, np.asarray(i), acc, tr._weights)
    jax.block_until_ready(acc)
    print(f"{args.model}: {args.steps / (time.perf_counter() - t):.1f} steps/s")


if __name__ == "__main__":
    main()
