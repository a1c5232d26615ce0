"""Losses and error sums: small pure functions of predictions and an ``AtomsGraph``.

The energy error is taken per atom; every term is weighted per structure (``weight``)
and per property. Padding and missing targets are masked out. Declared properties
(:mod:`matml.properties`) each add a term (mean squared error per component, in the
file's units) and their own error sums, keyed by name.
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
    w = graph.graph_mask.astype(n.dtype) * graph.weight  # structure weights
    g = w * graph.has_energy  # of the energy term: structures that hold one
    f_graph = (graph.has_forces & graph.graph_mask).astype(n.dtype)
    f_node = f_graph[graph.node_graph] * graph.node_mask * w[graph.node_graph]
    s_graph = (graph.has_stress & graph.graph_mask).astype(n.dtype) * w
    return n, g, f_node, s_graph


def _property_rows(graph: AtomsGraph, prop, pred_value):
    """Errors ``[rows, size]`` of one declared property and the weight of each row
    (its structure's weight where the target is present, else 0), and whether the
    target is present (1 or 0, whatever the weight: what the metrics count)."""
    w = graph.graph_mask.astype(graph.positions.dtype) * graph.weight
    per_row = {"structure": w, "atom": w[graph.node_graph],
               "edge": w[graph.edge_graph()]}[prop.level]  # fmt: skip
    present = graph.property_mask[prop.name].astype(w.dtype)
    rows = present.shape[0]
    d = (pred_value - graph.properties[prop.name]).reshape(rows, -1)
    return d, present * per_row, present


def loss_terms(
    pred: Predictions, graph: AtomsGraph, properties=()
) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Weighted squared errors as ``(sum, count)`` pairs: energy per atom, force
    components, stress components, and the components of each declared property.
    Sums and counts add exactly over batches and devices; :func:`weighted_loss` turns
    them into the mean squared errors."""
    n, g, f_node, s_graph = _masks(graph)
    de = (pred.energy - graph.energy) / n
    df = jnp.sum((pred.forces - graph.forces) ** 2, axis=1)
    ds = jnp.sum((pred.stress - graph.stress) ** 2, axis=(1, 2))
    terms = {
        "energy": (jnp.sum(g * de**2), jnp.sum(g)),
        "forces": (jnp.sum(f_node * df), 3 * jnp.sum(f_node)),
        "stress": (jnp.sum(s_graph * ds), 9 * jnp.sum(s_graph)),
    }
    for p in properties:
        d, m, _ = _property_rows(graph, p, pred.properties[p.name])
        terms[p.name] = (jnp.sum(m * jnp.sum(d**2, axis=1)), d.shape[1] * jnp.sum(m))
    return terms


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


def error_sums(
    pred: Predictions, graph: AtomsGraph, properties=()
) -> dict[str, jax.Array]:
    """Sums of squared and absolute errors and counts, to be added over batches
    (``NAME.sq``, ``NAME.abs``, ``NAME.n`` for a declared property)."""
    n, _, f_node, s_graph = _masks(graph)
    gm = (graph.graph_mask & graph.has_energy).astype(n.dtype)
    fm = (f_node > 0).astype(n.dtype)[:, None]
    sm = (s_graph > 0).astype(n.dtype)[:, None, None]
    de = (pred.energy - graph.energy) / n * gm
    df = (pred.forces - graph.forces) * fm
    ds = (pred.stress - graph.stress) * sm
    out = {
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
    for p in properties:
        d, _, present = _property_rows(graph, p, pred.properties[p.name])
        present = present[:, None]
        out[f"{p.name}.sq"] = jnp.sum(present * d**2)
        out[f"{p.name}.abs"] = jnp.sum(present * jnp.abs(d))
        out[f"{p.name}.n"] = d.shape[1] * jnp.sum(present)
    return out


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
    for key in sums:
        if key.endswith(".n") and float(sums[key]):  # declared properties, file units
            name, count = key[:-2], float(sums[key])
            out[f"{name}_rmse"] = (float(sums[f"{name}.sq"]) / count) ** 0.5
            out[f"{name}_mae"] = float(sums[f"{name}.abs"]) / count
    return out


def zero_sums(dtype, properties=()) -> dict:
    """Zeros shaped like ``{"terms": loss_terms(...), "errors": error_sums(...)}``:
    the start of running sums over batches."""
    z = jnp.zeros((), dtype)
    names = [p.name for p in properties]
    return {
        "terms": {k: (z, z) for k in (*TERMS, *names)},
        "errors": {
            **{k: z for k in ERROR_KEYS},
            **{f"{n}.{m}": z for n in names for m in ("sq", "abs", "n")},
        },
    }
