"""matml's XLA options against XLA's defaults: the bare energy + forces + stress call.

For each model of ``speed.py`` and each of its rattled Si cells (64 and 512 atoms),
float32, the jitted ``predict`` is compiled twice in this one process: with matml's
options (``matml._jit.compiler_options()``: YNNPACK fusions off on the CPU backend) and
with XLA's defaults. The two are then timed alternately, ``--pairs`` times (each time the
best of ``--calls`` calls), so that the machine's drift falls on both alike; the figure
is the median over the pairs of time(matml's options) / time(defaults).
``--moments`` times instead the descriptor's moments alone (the default model's
``moments_from_edges``, forward and reverse, on the 512-atom cell), the part where the
option matters most.

    python benchmarks/xla_options.py [--models descriptor linear] [--pairs 8] \\
        [--out benchmarks/results/xla_options.json]
    python benchmarks/xla_options.py --moments --out benchmarks/results/xla_moments.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def si_graph(spec: dict, n_rep: int):
    """The potential of ``spec``, its calculator (padding, radial tables) and the padded
    float32 graph of the rattled Si cell, as the calculator builds it."""
    import jax.numpy as jnp
    from speed import make_potential, si_cell

    from matml.calculator import MatmlCalculator
    from matml.data import Structure, collate

    pot = make_potential(spec, jnp.float32)
    calc = MatmlCalculator(pot, dtype=jnp.float32)
    s = Structure.from_atoms(si_cell(n_rep), pot.cutoff, pot.species)
    n_node, n_edge = calc.padded_sizes(s.n_node, s.n_edge)
    return pot, calc, collate([s], n_node, n_edge, 2).to_jax(jnp.float32)


def both_ways(fn) -> dict:
    """``fn`` compiled with matml's options and with XLA's defaults."""
    import jax

    from matml._jit import jit

    return {"matml": jit(fn), "default": jax.jit(fn)}


def time_pair(spec: dict, n_rep: int, pairs: int, calls: int) -> dict:
    from flax import nnx

    from matml.potential.autodiff import predict

    _, calc, graph = si_graph(spec, n_rep)
    graphdef, state = nnx.split(calc.evaluated)

    def fn(state, graph):
        return predict(nnx.merge(graphdef, state), graph, stress=True, forces=True)

    fns = both_ways(fn)
    forces = {k: np.asarray(f(state, graph).forces) for k, f in fns.items()}
    best = alternate(fns, (state, graph), pairs, calls)
    n = int(graph.n_node[0])
    a, b = np.array(best["matml"]), np.array(best["default"])
    return {
        "model": spec["name"],
        "atoms": n,
        "matml_us_per_atom_step_median": round(1e6 * float(np.median(a)) / n, 2),
        "default_us_per_atom_step_median": round(1e6 * float(np.median(b)) / n, 2),
        "time_ratio_matml_over_default": round(float(np.median(a / b)), 3),
        "ratio_min_max": [
            round(float((a / b).min()), 3),
            round(float((a / b).max()), 3),
        ],
        "max_force_difference_ev_per_a": float(
            np.abs(forces["matml"] - forces["default"]).max()
        ),
    }


def alternate(fns: dict, args: tuple, pairs: int, calls: int) -> dict:
    """Best-of-``calls`` seconds of each function, ``pairs`` times, in turn."""
    best: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(pairs):
        for k, f in fns.items():
            t = []
            for _ in range(calls):
                t0 = time.perf_counter()
                jax_block(f(*args))
                t.append(time.perf_counter() - t0)
            best[k].append(min(t))
    return best


def jax_block(x):
    import jax

    return jax.block_until_ready(x)


def time_moments(pairs: int, calls: int) -> dict:
    """The descriptor's moments, forward + reverse, 512 atoms, both ways."""
    import jax
    import jax.numpy as jnp
    from speed import MODELS

    from matml.data import edge_vectors

    spec = next(m for m in MODELS if m["name"] == "descriptor")
    pot, _, g = si_graph(spec, 4)
    desc, n = pot.model.descriptor, g.positions.shape[0]

    def grad(v):
        def loss(v):
            c = desc.moments_from_edges(
                v, g.receivers, g.species[g.senders], g.edge_mask, n
            )
            return jnp.sum(c**2)

        return jax.grad(loss)(v)

    fns = both_ways(grad)
    vec = edge_vectors(g)
    for f in fns.values():
        jax_block(f(vec))
    best = alternate(fns, (vec,), pairs, calls)
    a, b = np.array(best["matml"]), np.array(best["default"])
    return {
        "what": "descriptor moments_from_edges, forward + reverse (jax.grad of the "
        "sum of squares), default model, 512-atom Si cell",
        "edges_padded": int(g.senders.shape[0]),
        "matml_ms_median": round(1e3 * float(np.median(a)), 3),
        "default_ms_median": round(1e3 * float(np.median(b)), 3),
        "time_ratio_matml_over_default": round(float(np.median(a / b)), 3),
    }


def main(argv=None) -> dict:
    import sys

    sys.path.insert(0, str(HERE))
    from speed import MODELS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", help="subset of speed.py's model names")
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--calls", type=int, default=6)
    p.add_argument("--moments", action="store_true", help="the moments alone")
    p.add_argument("--out", default=str(HERE / "results" / "xla_options.json"))
    a = p.parse_args(argv)

    import jax

    from matml._jit import compiler_options

    if a.moments:
        row = time_moments(a.pairs, a.calls)
        print(json.dumps(row, indent=1))
        out = Path(a.out)
        out.write_text(json.dumps({
            "benchmark": "xla_options --moments",
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "matml_compiler_options": compiler_options(), "jax": jax.__version__,
            "backend": jax.default_backend(), "pairs": a.pairs, "calls": a.calls,
            **row,
        }, indent=2) + "\n")  # fmt: skip
        print(f"wrote {out}")
        return row

    specs = [m for m in MODELS if not a.models or m["name"] in a.models]
    rows = []
    for spec in specs:
        for n_rep in (2, 4):
            row = time_pair(spec, n_rep, a.pairs, a.calls)
            rows.append(row)
            print(
                f"{row['model']:>12} {row['atoms']:4d} atoms: matml's options "
                f"{row['matml_us_per_atom_step_median']:8.1f}, defaults "
                f"{row['default_us_per_atom_step_median']:8.1f} µs/atom/step, "
                f"ratio {row['time_ratio_matml_over_default']:.2f} "
                f"({row['ratio_min_max'][0]:.2f}-{row['ratio_min_max'][1]:.2f})",
                flush=True,
            )
    result = {
        "benchmark": "xla_options",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "matml_compiler_options": compiler_options(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "protocol": f"bare jitted E+F+S, float32, both variants compiled in one "
        f"process, timed alternately: {a.pairs} pairs, best of {a.calls} calls each; "
        "ratio = median over pairs of time(matml's options) / time(XLA defaults)",
        "rows": rows,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
