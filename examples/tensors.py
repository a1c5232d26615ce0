"""Learning tensors whose truth is known: a dipole (per structure) and a symmetric 3x3
tensor per atom, with energies and forces, on Cu-Au clusters (``matml.demo.tensors``).

    python examples/tensors.py [--out runs/tensors] [--n 300] [--minutes 8]

1. makes the data (EMT energies and forces; the dipole of environment-dependent point
   charges; ``chi_i = sum_j w(r_ij) u_ij u_ij^T + iso_i I``), writes train/test extxyz;
2. trains one ``nequip`` potential with two output heads, declared in the config:
   ``dipole`` (``reduce: moment``: neutral per-atom charges times positions plus atomic
   dipoles) and ``chi`` (``level: atom, cartesian: symmetric``, made from 0e + 2e);
3. reports the test RMSE of each head beside the spread (standard deviation) of its
   targets, and the equivariance error of each head under random rotations with and
   without inversion (the rotated structure's prediction against the rotated
   prediction);
4. draws one cluster before and after a rotation about z, with the predicted dipole
   (arrow) and the predicted tensors (a bar along the main axis of their xy block,
   as long as its anisotropy), and the rotated
   first prediction on top: they coincide.

Writes ``OUT/results.json``, ``OUT/rotation.png``, and the training run in
``OUT/run`` (``parity.png`` has a panel per head, ``metrics.csv`` a column each).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/tensors"))
    p.add_argument("--n", type=int, default=300, help="clusters (4/5 train)")
    p.add_argument("--minutes", type=float, default=8.0, help="training time limit")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from matml.demo.tensors import R_C, make_tensor_clusters
    from matml.io import write_extxyz
    from matml.train.run import train_from_config

    t0 = time.perf_counter()
    data = make_tensor_clusters(args.n, seed=args.seed)
    n_train = int(0.8 * len(data))
    write_extxyz(args.out / "train.xyz", data[:n_train])
    write_extxyz(args.out / "test.xyz", data[n_train:])
    config = {
        "seed": args.seed,
        "data": {"train": str(args.out / "train.xyz"),
                 "test": str(args.out / "test.xyz"), "valid_fraction": 0.1},
        "model": {"name": "nequip", "cutoff": R_C + 0.5, "channels": 16,
                  "max_ell": 2, "radial_hidden": [32, 32]},
        "properties": {
            "dipole": {"level": "structure", "reduce": "moment", "weight": 10},
            "chi": {"level": "atom", "cartesian": "symmetric", "weight": 10},
        },
        "train": {"epochs": args.epochs, "batch_size": 8, "lr": 0.01,
                  "energy_weight": 1.0, "forces_weight": 1.0,
                  "max_seconds": 60 * args.minutes, "patience": 40},
    }  # fmt: skip
    run = train_from_config(config, args.out / "run")
    model = args.out / "run" / "model.matml"

    test = data[n_train:]
    results = {
        "n_train": n_train,
        "n_test": len(test),
        "train_seconds": run["train_seconds"],
        "epochs_run": run["epochs_run"],
        "heads": {},
        "energy_rmse_mev_per_atom": run["test"]["energy_rmse"],
        "force_rmse_ev_per_a": run["test"]["forces_rmse"],
    }
    spread = {
        "dipole": float(np.std(np.stack([a.info["REF_dipole"] for a in test]))),
        "chi": float(np.std(np.concatenate([a.arrays["REF_chi"] for a in test]))),
    }
    errors = equivariance_errors(model, test[:10], seed=args.seed)
    for name in ("dipole", "chi"):
        results["heads"][name] = {
            "test_rmse": run["test"][f"{name}_rmse"],
            "test_mae": run["test"][f"{name}_mae"],
            "target_std": spread[name],
            "rmse_over_std": run["test"][f"{name}_rmse"] / spread[name],
            "equivariance_max_error": errors[name],
        }
    draw_rotation(model, test[0], args.out / "rotation.png")
    results["seconds"] = round(time.perf_counter() - t0, 1)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    for name, h in results["heads"].items():
        print(
            f"{name}: test RMSE {h['test_rmse']:.4g} (targets' std {h['target_std']:.4g},"
            f" ratio {h['rmse_over_std']:.3f}); equivariance error "
            f"{h['equivariance_max_error']:.2g}"
        )
    print(f"wrote {args.out / 'results.json'} and {args.out / 'rotation.png'}")


def _rotated(atoms, rot):
    b = atoms.copy()
    b.positions = atoms.positions @ rot.T
    return b


def equivariance_errors(model, structures, seed=0) -> dict[str, float]:
    """Max |f(R x) - R f(x)| (dipole) and |g(R x) - R g(x) R^T| (chi) over
    ``structures`` and two random rotations, one with inversion."""
    import matml
    from matml.testing import random_rotation

    ref = matml.predict(model, structures)
    err = {"dipole": 0.0, "chi": 0.0}
    for reflect in (False, True):
        rot = random_rotation(seed, reflect)
        got = matml.predict(model, [_rotated(a, rot) for a in structures])
        for d0, d1 in zip(ref["dipole"], got["dipole"], strict=True):
            err["dipole"] = max(err["dipole"], float(np.abs(d1 - rot @ d0).max()))
        for c0, c1 in zip(ref["chi"], got["chi"], strict=True):
            want = np.einsum("ij,njk,lk->nil", rot, c0, rot)
            err["chi"] = max(err["chi"], float(np.abs(c1 - want).max()))
    return err


def draw_rotation(model, atoms, path: Path) -> None:
    """The cluster and its predictions, then the same rotated by 60 degrees about z
    with the rotated first predictions drawn over the new ones."""
    import matml
    from matml._plots import new_figure, save_figure

    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    first = matml.predict(model, atoms)
    moved = _rotated(atoms, rot)
    second = matml.predict(model, moved)
    fig, axes = new_figure(2, 1, size=(4.6, 4.6))

    def panel(ax, a, pred, overlay, title):
        pos = a.positions - a.positions.mean(axis=0)
        colours = ["#d4a017" if s == "Au" else "#b87333" for s in a.symbols]
        ax.scatter(pos[:, 0], pos[:, 1], c=colours, s=30, zorder=3)
        for layer, style in ((pred, "-"), (overlay, "--")):
            if layer is None:
                continue
            for p, t in zip(pos, layer["chi"], strict=True):
                # the xy block's anisotropy: a bar along its main axis, as long as
                # 3x the difference of its eigenvalues
                w, v = np.linalg.eigh(t[:2, :2])
                half = 1.5 * (w[1] - w[0]) * v[:, 1]
                ax.plot([p[0] - half[0], p[0] + half[0]],
                        [p[1] - half[1], p[1] + half[1]], ls=style, lw=1.5,
                        color="k")  # fmt: skip
            d = 4.0 * layer["dipole"]
            ax.annotate("", xy=(d[0], d[1]), xytext=(0, 0),
                        arrowprops={"arrowstyle": "->", "ls": style, "lw": 1.5,
                                    "color": "tab:blue"})  # fmt: skip
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")

    turned = {
        "dipole": rot @ first["dipole"],
        "chi": np.einsum("ij,njk,lk->nil", rot, first["chi"], rot),
    }
    panel(
        axes[0, 0],
        atoms,
        first,
        None,
        "prediction (dipole x4: arrow; chi: main axis in xy)",
    )
    panel(axes[0, 1], moved, second, turned,
          "rotated 60° about z: prediction (solid)\nand rotated first prediction (dashed)")  # fmt: skip
    save_figure(fig, path, dpi=120)


if __name__ == "__main__":
    main()
