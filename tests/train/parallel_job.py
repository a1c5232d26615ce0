"""A training job for the multi-device and multi-process tests (run in a subprocess,
so that XLA_FLAGS and jax.distributed take effect before JAX starts).

    python parallel_job.py OUT DEVICES [EPOCHS] [--resume] [--model pair|nequip]
    python parallel_job.py --runs OUT MODEL:DEVICES:EPOCHS ...

Trains tiny models in float64 on EMT copper (the second form: several runs in one
process, into OUT/MODEL-DEVICES-EPOCHS) and prints the results as JSON.
"""

import json
import os
import sys

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

from matml.demo.emt_copper import make_emt_copper  # noqa: E402
from matml.train.run import train_from_config  # noqa: E402

MODELS = {
    "pair": {"name": "pair", "cutoff": 4.0, "hidden": [8, 8], "embedding": 2},
    "nequip": {"name": "nequip", "cutoff": 4.0, "channels": 4, "max_ell": 1,
               "num_interactions": 1, "radial_hidden": [8], "readout_hidden": 4},
}  # fmt: skip


def main(argv):
    if argv[0] == "--runs":
        out = {}
        for spec in argv[2:]:
            model, devices, epochs = spec.split(":")
            name = f"{model}-{devices}-{epochs}"
            extra = ["--model", model] + (["--small"] if model != "pair" else [])
            out[name] = train([f"{argv[1]}/{name}", devices, epochs, *extra])
        print(json.dumps(out))
        return
    print(json.dumps({"results": train(argv)}))


def train(argv):
    args = [a for a in argv if not a.startswith("--")]
    out, devices = args[0], args[1]
    epochs = int(args[2]) if len(args) > 2 else 5
    model = argv[argv.index("--model") + 1] if "--model" in argv else "pair"
    n = 24 if "--small" not in argv else 12
    raw = {
        "seed": 1,
        "dtype": "float64",
        "model": MODELS[model],
        "data": {"valid_fraction": 0.25},
        "train": {"epochs": epochs, "batch_size": 4, "lr": 3e-3, "stress_weight": 1.0,
                  "devices": devices if devices == "auto" else int(devices),
                  "patience": 1000, "n_buckets": 1},
    }  # fmt: skip
    atoms = make_emt_copper(n, seed=1)
    return train_from_config(
        raw, out, progress=False, train_atoms=atoms, resume="--resume" in argv
    )


if __name__ == "__main__":
    main(sys.argv[1:])
