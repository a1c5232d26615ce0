"""Predictions of a potential over a whole dataset, with error metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np
from flax import nnx

from matml.data import Buckets, Dataset, GraphLoader
from matml.keys import VOIGT_INDEX
from matml.potential import Potential, precision, predict_fn
from matml.train.loss import error_sums, metrics_from_sums

__all__ = ["Evaluation", "evaluate"]


@dataclass
class Evaluation:
    metrics: dict[str, float]
    energy_ref: np.ndarray  # per atom, eV
    energy_pred: np.ndarray
    forces_ref: np.ndarray  # [n, 3] over structures with forces
    forces_pred: np.ndarray
    stress_ref: np.ndarray  # [m, 6] Voigt, eV/Å^3, over structures with stress
    stress_pred: np.ndarray
    # declared properties by name: (reference, predicted) values where present,
    # [rows, *shape] in the file's units
    properties: dict = field(default_factory=dict)


def evaluate(
    potential: Potential,
    dataset: Dataset,
    batch_size: int = 8,
    dtype=None,
    buckets: Buckets | None = None,
) -> Evaluation:
    """Energy, force and stress errors of ``potential`` on ``dataset``, and those of
    its declared properties.

    ``buckets``: the padded shapes to use (default: ones fitted to ``dataset``). Pass
    the same buckets to several calls (validation and test sets) and each shape is
    compiled once for all of them.
    """
    dtype = dtype or potential.dtype
    dataset.check_properties(getattr(potential, "properties", ()))
    with precision(dtype):
        return _evaluate(potential, dataset, batch_size, dtype, buckets)


def _evaluate(potential, dataset, batch_size, dtype, buckets=None) -> Evaluation:
    graphdef, state = nnx.split(potential)
    fn = predict_fn(graphdef)
    sums: dict = {}
    e_ref, e_pred, f_ref, f_pred, s_ref, s_pred = [], [], [], [], [], []
    props = tuple(getattr(potential, "properties", ()))
    p_ref = {p.name: [] for p in props}
    p_pred = {p.name: [] for p in props}
    for graph in GraphLoader(dataset, batch_size, buckets=buckets):
        g = graph.to_jax(dtype)
        pred = fn(state, g)
        for k, v in jax.device_get(error_sums(pred, g, props)).items():
            sums[k] = sums.get(k, 0.0) + float(v)
        pred = jax.device_get(pred)
        for p in props:
            m = np.asarray(graph.property_mask[p.name])
            p_ref[p.name].append(np.asarray(graph.properties[p.name])[m])
            p_pred[p.name].append(np.asarray(pred.properties[p.name])[m])
        gm = graph.graph_mask & graph.has_energy
        n = graph.n_node[gm]
        e_ref.append(graph.energy[gm] / n)
        e_pred.append(np.asarray(pred.energy)[gm] / n)
        gm = graph.graph_mask
        fm = (graph.has_forces & gm)[graph.node_graph] & graph.node_mask
        f_ref.append(graph.forces[fm])
        f_pred.append(np.asarray(pred.forces)[fm])
        sm = graph.has_stress & gm
        s_ref.append(graph.stress[sm][:, *VOIGT_INDEX])
        s_pred.append(np.asarray(pred.stress)[sm][:, *VOIGT_INDEX])
    cat = np.concatenate
    return Evaluation(
        metrics_from_sums(sums),
        cat(e_ref),
        cat(e_pred),
        cat(f_ref).reshape(-1, 3),
        cat(f_pred).reshape(-1, 3),
        cat(s_ref).reshape(-1, 6),
        cat(s_pred).reshape(-1, 6),
        {p.name: (cat(p_ref[p.name]), cat(p_pred[p.name])) for p in props},
    )
