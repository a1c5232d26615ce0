"""Losses and error sums: small pure functions of predictions and an ``AtomsGraph``.

One mechanism for every target: energy, forces and stress (the built-in properties of
:mod:`matml.properties`) and each declared property give a loss term (mean squared
error per component) and error sums keyed ``NAME.sq``, ``NAME.abs``, ``NAME.n``.
Every term is weighted per structure (``weight``); padding and missing targets are
masked out. The energy error is taken per atom; metrics report energy in meV/atom,
forces in eV/Å, stress in GPa and declared properties in their file's units. Metrics
count every structure that holds the target, whatever its loss weight (a structure of
weight 0 is still measured).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from matml.data.graph import AtomsGraph
from matml.potential.autodiff import Predictions
from matml.properties import BUILTIN

__all__ = [
    "loss_terms",
    "weighted_loss",
    "error_sums",
    "metrics_from_sums",
    "zero_sums",
]

TERMS = tuple(p.name for p in BUILTIN)
_UNITS = {p.name: p.unit_factor for p in BUILTIN}  # declared ones: their file's units


def predicted(pred: Predictions, prop) -> jax.Array:
    """The prediction of one property (built in or declared)."""
    return getattr(pred, prop.name) if prop.builtin else pred.properties[prop.name]


def _rows(graph: AtomsGraph, prop, pred: Predictions):
    """Errors ``[rows, size]`` of one property, the weight of each row (its
    structure's weight where the target is present, else 0), and whether the target
    is present (1 or 0, whatever the weight: what the metrics count)."""
    w = graph.graph_mask.astype(graph.positions.dtype) * graph.weight
    per_row = {"structure": w, "atom": w[graph.node_graph],
               "edge": w[graph.edge_graph()]}[prop.level]  # fmt: skip
    present = graph.property_mask[prop.name].astype(w.dtype)
    rows = present.shape[0]
    d = (predicted(pred, prop) - graph.properties[prop.name]).reshape(rows, -1)
    if prop.per_atom:  # structure-level, per atom of the structure (energy)
        d = d / jnp.maximum(graph.n_node, 1).astype(d.dtype)[:, None]
    return d, present * per_row, present


def loss_terms(
    pred: Predictions, graph: AtomsGraph, properties=()
) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Weighted squared errors as ``(sum, count)`` pairs, one per property: energy
    per atom, force components, stress components, and the components of each
    declared property. Sums and counts add exactly over batches and devices;
    :func:`weighted_loss` turns them into the mean squared errors."""
    terms = {}
    for p in (*BUILTIN, *properties):
        d, m, _ = _rows(graph, p, pred)
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
    """Sums of squared and absolute errors and counts of present components, to be
    added over batches (``NAME.sq``, ``NAME.abs``, ``NAME.n`` for energy, forces,
    stress and each declared property)."""
    out = {}
    for p in (*BUILTIN, *properties):
        d, _, present = _rows(graph, p, pred)
        present = present[:, None]
        out[f"{p.name}.sq"] = jnp.sum(present * d**2)
        out[f"{p.name}.abs"] = jnp.sum(present * jnp.abs(d))
        out[f"{p.name}.n"] = d.shape[1] * jnp.sum(present)
    return out


def metrics_from_sums(sums: dict) -> dict[str, float]:
    """``NAME_rmse`` and ``NAME_mae`` of every property with data: energy in
    meV/atom, forces in eV/Å, stress in GPa, declared properties in file units."""
    out = {}
    for key in sums:
        if key.endswith(".n") and float(sums[key]):
            name, count = key[:-2], float(sums[key])
            factor = _UNITS.get(name, 1.0)
            out[f"{name}_rmse"] = factor * (float(sums[f"{name}.sq"]) / count) ** 0.5
            out[f"{name}_mae"] = factor * float(sums[f"{name}.abs"]) / count
    return out


def zero_sums(dtype, properties=()) -> dict:
    """Zeros shaped like ``{"terms": loss_terms(...), "errors": error_sums(...)}``:
    the start of running sums over batches."""
    z = jnp.zeros((), dtype)
    names = [*TERMS, *(p.name for p in properties)]
    return {
        "terms": {k: (z, z) for k in names},
        "errors": {f"{n}.{m}": z for n in names for m in ("sq", "abs", "n")},
    }
