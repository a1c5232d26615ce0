"""Losses and error sums: small pure functions of predictions and an ``AtomsGraph``.

The energy error is taken per atom; every term is weighted per structure (``weight``)
and per property. Padding and missing targets are masked out.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from matml.data.graph import AtomsGraph
from matml.potential.autodiff import Predictions

__all__ = ["loss_terms", "error_sums", "metrics_from_sums"]


def _masks(graph: AtomsGraph):
    n = jnp.maximum(graph.n_node, 1).astype(graph.positions.dtype)
    g = graph.graph_mask.astype(graph.positions.dtype) * graph.weight
    f_graph = (graph.has_forces & graph.graph_mask).astype(n.dtype)
    f_node = f_graph[graph.node_graph] * graph.node_mask * g[graph.node_graph]
    s_graph = (graph.has_stress & graph.graph_mask).astype(n.dtype) * g
    return n, g, f_node, s_graph


def loss_terms(pred: Predictions, graph: AtomsGraph) -> dict[str, jax.Array]:
    """Mean squared errors: energy per atom, force components, stress components."""
    n, g, f_node, s_graph = _masks(graph)
    de = (pred.energy - graph.energy) / n
    e = jnp.sum(g * de**2) / jnp.maximum(jnp.sum(g), 1e-12)
    df = jnp.sum((pred.forces - graph.forces) ** 2, axis=1)
    f = jnp.sum(f_node * df) / jnp.maximum(3 * jnp.sum(f_node), 1e-12)
    ds = jnp.sum((pred.stress - graph.stress) ** 2, axis=(1, 2))
    s = jnp.sum(s_graph * ds) / jnp.maximum(9 * jnp.sum(s_graph), 1e-12)
    return {"energy": e, "forces": f, "stress": s}


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
