"""The Lennard-Jones case of the course, end to end (reduced units: epsilon, sigma).

1. Relax LJ13 by gradient descent (optax) on autodiff forces, from an icosahedral start
   and from random starts; compare with the known minimum -44.326801 epsilon.
2. Rattle the relaxed cluster (several amplitudes) and label the copies with the analytic
   LJ energy and forces; split into training and test sets.
3. Train matml's pair network (SiLU MLP of r, summed over pairs) on energies only, then,
   from the same start, on energies + forces.
4. Write parity plots, the learned pair energy and pair force against the analytic LJ
   curves, the relaxation trace, and ``results.json``.

Run (about a minute on 2 CPU cores)::

    PYTHONPATH=src python examples/lennard_jones.py --out lj_out
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # the relaxation and the labels in float64

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from matml._files import write_json, write_provenance  # noqa: E402
from matml.course import (  # noqa: E402
    LJ13_MINIMUM,
    fit_pair_network,
    icosahedron13,
    learned_pair_curve,
    lj_errors,
    pair_distances,
    random_cluster,
    rattled_structures,
    relax,
)
from matml.course.plots import (  # noqa: E402
    plot_pair_curve,
    plot_parity,
    plot_relaxation,
)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="lj_out", help="output folder (default lj_out)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--random-starts", type=int, default=5, help="random LJ13 starts")
    p.add_argument(
        "--per-amplitude", type=int, default=25, help="structures per amplitude"
    )
    p.add_argument("--epochs", type=int, default=150, help="training epochs per model")
    p.add_argument("--cutoff", type=float, default=3.0, help="network cutoff (sigma)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    amplitudes = (0.01, 0.03, 0.06, 0.1)
    hidden = (32, 32)
    config = {**vars(args), "amplitudes": amplitudes, "hidden": hidden, "units": "LJ"}
    write_provenance(out, config, args.seed)

    # 1. relaxation -------------------------------------------------------------------
    rng = np.random.default_rng(args.seed)
    start = icosahedron13(1.0) + rng.normal(scale=0.05, size=(13, 3))
    ico = relax(start)
    print(
        f"LJ13 from a rattled icosahedron: E = {ico.energy:.6f} eps "
        f"(known minimum {LJ13_MINIMUM}), max force {ico.max_force:.1e} eps/sigma, "
        f"{ico.steps} steps"
    )
    traces = {f"icosahedral start: {ico.energy:.6f} ε": ico.energies}
    randoms = []
    for k in range(args.random_starts):
        r = relax(random_cluster(13, seed=args.seed + k))
        randoms.append({"energy": r.energy, "max_force": r.max_force, "steps": r.steps})
        traces[f"random start {k}: {r.energy:.4f} ε"] = r.energies
        print(f"  random start {k}: E = {r.energy:.6f} eps after {r.steps} steps")
    e_min = min([ico.energy] + [r["energy"] for r in randoms])
    plot_relaxation(traces, out / "relaxation.png", minimum=e_min)

    # 2. data ----------------------------------------------------------------------------
    data = rattled_structures(
        ico.positions, amplitudes, args.per_amplitude, seed=args.seed
    )
    perm = np.random.default_rng(args.seed + 1).permutation(len(data))
    n_train = int(round(0.8 * len(data)))
    train = [data[i] for i in perm[:n_train]]
    test = [data[i] for i in perm[n_train:]]
    print(f"{len(train)} training and {len(test)} test structures (rattled LJ13)")

    # 3. two networks --------------------------------------------------------------------
    models, errors, results = {}, {}, {}
    for label, forces in (("energies only", False), ("energies + forces", True)):
        pot, summary = fit_pair_network(
            train,
            forces=forces,
            cutoff=args.cutoff,
            hidden=hidden,
            epochs=args.epochs,
            seed=args.seed,
            dtype=jnp.float32,
        )
        err = lj_errors(pot, test)
        models[label], errors[label] = pot, err
        results[label] = {**err.summary(), "training": summary}
        print(
            f"pair network, {label}: test energy RMSE {err.energy_rmse:.4f} eps "
            f"({100 * err.energy_rmse / err.energy_range:.2f}% of the range "
            f"{err.energy_range:.1f} eps), force RMSE {err.forces_rmse:.3f} eps/sigma "
            f"({100 * err.forces_rmse / err.forces_rms:.2f}% of the RMS force)"
        )

    # 4. figures -------------------------------------------------------------------------
    plot_parity(errors, out / "parity.png")
    distances = pair_distances(train)
    r = np.linspace(0.85, args.cutoff, 400)
    curves = {k: learned_pair_curve(m, r) for k, m in models.items()}
    lj_r = {k: np.abs(v[0] - _lj(r)) for k, v in curves.items()}
    sampled = (r >= distances.min()) & (r <= distances.max())
    for k in results:
        results[k]["pair_energy_max_error_in_sampled_range"] = float(
            lj_r[k][sampled].max()
        )
    plot_pair_curve(
        r, {k: v[0] for k, v in curves.items()}, distances, out / "pair_energy.png"
    )
    plot_pair_curve(
        r,
        {k: v[1] for k, v in curves.items()},
        distances,
        out / "pair_force.png",
        kind="force",
    )

    summary = {
        "units": "Lennard-Jones reduced units: energy epsilon, length sigma",
        "relaxation": {
            "start": "icosahedron (r=1 sigma) rattled by 0.05 sigma",
            "energy": ico.energy,
            "known_minimum": LJ13_MINIMUM,
            "error": ico.energy - LJ13_MINIMUM,
            "max_force": ico.max_force,
            "steps": ico.steps,
            "random_starts": randoms,
        },
        "n_train": len(train),
        "n_test": len(test),
        "amplitudes": list(amplitudes),
        "pair_distance_range": [float(distances.min()), float(distances.max())],
        "cutoff": args.cutoff,
        "models": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_json(out / "results.json", summary)
    print(f"wrote {out}/ (results.json and PNGs) in {summary['seconds']} s")
    return summary


def _lj(r):
    from matml.course import lj_pair_energy

    return np.asarray(lj_pair_energy(r))


if __name__ == "__main__":
    main()
