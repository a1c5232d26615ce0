"""Losses and error sums: small pure functions of predictions and an ``AtomsGraph``.

The energy error is taken per atom; every term is weighted per structure (``weight``)
and per property. Padding and missing targets are masked out.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from matml.data.graph import AtomsGraph
from matml.potential.autodiff import Predictions

__all__ = [
    "loss_terms",
    "weighted_loss",
    "error_sums",
    "metrics_from_sums",
    "zero_sums",
]

TERMS = ("energy", "forces", "stress")
ERROR_KEYS = tuple(f"{k}_{m}" for k in "efs" for m in ("sq", "abs", "n"))


def _masks(graph: AtomsGraph):
    n = jnp.maximum(graph.n_node, 1).astype(graph.positions.dtype)
    g = graph.graph_mask.astype(graph.positions.dtype) * graph.weight
    f_graph = (graph.has_forces & graph.graph_mask).astype(n.dtype)
    f_node = f_graph[graph.node_graph] * graph.node_mask * g[graph.node_graph]
    s_graph = (graph.has_stress & graph.graph_mask).astype(n.dtype) * g
    return n, g, f_node, s_graph


def loss_terms(
    pred: Predictions, graph: AtomsGraph
) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Weighted squared errors as ``(sum, count)`` pairs: energy per atom, force
    components, stress components. Sums and counts add exactly over batches and
    devices; :func:`weighted_loss` turns them into the mean squared errors."""
    n, g, f_node, s_graph = _masks(graph)
    de = (pred.energy - graph.energy) / n
    df = jnp.sum((pred.forces - graph.forces) ** 2, axis=1)
    ds = jnp.sum((pred.stress - graph.stress) ** 2, axis=(1, 2))
    return {
        "energy": (jnp.sum(g * de**2), jnp.sum(g)),
        "forces": (jnp.sum(f_node * df), 3 * jnp.sum(f_node)),
        "stress": (jnp.sum(s_graph * ds), 9 * jnp.sum(s_graph)),
    }


def weighted_loss(terms: dict, weights: dict[str, float]) -> jax.Array:
    """``sum_k weights[k] * sum_k / count_k`` over the terms of :func:`loss_terms`
    (or their sums over batches); a term with no data counts zero. Weights may be
    traced arrays (a term with a Python zero weight is left out)."""
    total = 0.0
    for k, w in weights.items():
        if not isinstance(w, int | float) or w:
            s, c = terms[k]
            total = total + w * s / jnp.maximum(c, 1e-12)
    return total


def error_sums(pred: Predictions, graph: AtomsGraph) -> dict[str, jax.Array]:
    """Sums of squared and absolute errors and counts, to be added over batches."""
    n, _, f_node, s_graph = _masks(graph)
    gm = graph.graph_mask.astype(n.dtype)
    fm = (f_node > 0).astype(n.dtype)[:, None]
    sm = (s_graph > 0).astype(n.dtype)[:, None, None]
    de = (pred.energy - graph.energy) / n * gm
    df = (pred.forces - graph.forces) * fm
    ds = (pred.stress - graph.stress) * sm
    return {
        "e_sq": jnp.sum(de**2),
        "e_abs": jnp.sum(jnp.abs(de)),
        "e_n": jnp.sum(gm),
        "f_sq": jnp.sum(df**2),
        "f_abs": jnp.sum(jnp.abs(df)),
        "f_n": 3 * jnp.sum(fm),
        "s_sq": jnp.sum(ds**2),
        "s_abs": jnp.sum(jnp.abs(ds)),
        "s_n": 9 * jnp.sum(sm),
    }


def metrics_from_sums(sums: dict) -> dict[str, float]:
    """RMSE and MAE: energy in meV/atom, forces in eV/Å, stress in GPa."""
    from matml.keys import EV_PER_A3_TO_GPA

    out = {}
    for key, name, factor in (
        ("e", "energy", 1000.0),
        ("f", "forces", 1.0),
        ("s", "stress", EV_PER_A3_TO_GPA),
    ):
        count = float(sums[f"{key}_n"])
        if count == 0:
            continue
        out[f"{name}_rmse"] = factor * (float(sums[f"{key}_sq"]) / count) ** 0.5
        out[f"{name}_mae"] = factor * float(sums[f"{key}_abs"]) / count
    return out


def zero_sums(dtype) -> dict:
    """Zeros shaped like ``{"terms": loss_terms(...), "errors": error_sums(...)}``:
    the start of running sums over batches."""
    z = jnp.zeros((), dtype)
    return {
        "terms": {k: (z, z) for k in TERMS},
        "errors": {k: z for k in ERROR_KEYS},
    }
