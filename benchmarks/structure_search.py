"""The settings search of ``matml bench structures``' equivariant model: one variant
trained on fold 0's training folds, scored on its own validation split (10 % of them;
the choice is made on these numbers, never on a test fold), one JSON line appended to
``benchmarks/results/structures/search.jsonl`` per run (the test fold's MAE is kept
too, for the record).

    python benchmarks/structure_search.py NAME '{"channels": 32}' '{"lr": 2e-3}'

The second and third arguments update the model and train sections of
:data:`matml.bench.structure_equivariant.CONFIG`'s run (16 channels, one-hot species
were the settings before the search).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = (
    HERE.parent.parent / "shared" / "data" / "tables" / "mp_elastic_structures.json.gz"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("model", type=json.loads, help="JSON: model keys to set")
    p.add_argument("train", type=json.loads, help="JSON: train keys to set")
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--out", type=Path,
                   default=HERE / "results" / "structures" / "search.jsonl")  # fmt: skip
    args = p.parse_args()

    import matml
    from matml.bench import structure_equivariant as se
    from matml.bench.structures import load_structures, make_folds
    from matml.train.run import train_from_config

    data = load_structures(args.data)
    train, test = make_folds(len(data))[args.fold]
    targets = list(data.targets)
    species = sorted({s for a in data.atoms for s in a.get_chemical_symbols()})
    base = {k: v for k, v in se.CONFIG.items() if k not in ("channels",
            "species_features")}  # fmt: skip
    config = {
        "seed": 0,
        "model": {**base, "channels": 16, "cutoff": 5.0, **args.model},
        "properties": {t: {"level": "structure", "irreps": "0e", "reduce": "mean"}
                       for t in targets},
        "data": {"valid_fraction": 0.1, "species": species},
        "train": {"epochs": 60, "batch_size": 16, "lr": 5e-3, "energy_weight": 0.0,
                  "forces_weight": 0.0, "max_seconds": 420.0, "patience": 1000,
                  **args.train},
    }  # fmt: skip
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = train_from_config(config, Path(tmp) / "run", progress=False,
                                train_atoms=se._fold_atoms(data, train, targets))  # fmt: skip
        model = matml.load(Path(tmp) / "run" / "model.matml")
    out = matml.predict(model, [data.atoms[i] for i in test], batch_size=16)
    res = {
        "name": args.name, "model": args.model, "train": args.train,
        "fold": args.fold, "seconds": round(time.perf_counter() - t0),
        "best_epoch": run.get("best_epoch"),
        "valid_mae": {t: run["valid"][f"{t}_mae"] for t in targets},
        "test_mae": {t: float(np.mean(np.abs(np.asarray(out[t]) - data.targets[t][test])))
                     for t in targets},
    }  # fmt: skip
    print(json.dumps(res))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
