"""Predictions of a potential over a whole dataset, with error metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np
from flax import nnx

from matml.data import Buckets, Dataset, GraphLoader
from matml.keys import VOIGT_INDEX
from matml.potential import Potential, precision, predict_fn
from matml.properties import BUILTIN
from matml.train.loss import error_sums, metrics_from_sums, predicted

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
    props = tuple(getattr(potential, "properties", ()))
    every = (*BUILTIN, *props)
    ref = {p.name: [] for p in every}
    out = {p.name: [] for p in every}
    for graph in GraphLoader(dataset, batch_size, buckets=buckets):
        g = graph.to_jax(dtype)
        pred = fn(state, g)
        for k, v in jax.device_get(error_sums(pred, g, props)).items():
            sums[k] = sums.get(k, 0.0) + float(v)
        pred = jax.device_get(pred)
        for p in every:  # each target where present, as the loss sees it
            m = np.asarray(graph.property_mask[p.name])
            r = np.asarray(graph.properties[p.name])[m]
            y = np.asarray(predicted(pred, p))[m]
            if p.per_atom:
                r, y = r / graph.n_node[m], y / graph.n_node[m]
            ref[p.name].append(r)
            out[p.name].append(y)
    cat = np.concatenate
    ref = {k: cat(v) for k, v in ref.items()}
    out = {k: cat(v) for k, v in out.items()}
    return Evaluation(
        metrics_from_sums(sums),
        ref["energy"],
        out["energy"],
        ref["forces"].reshape(-1, 3),
        out["forces"].reshape(-1, 3),
        ref["stress"][:, *VOIGT_INDEX].reshape(-1, 6),
        out["stress"][:, *VOIGT_INDEX].reshape(-1, 6),
        {p.name: (ref[p.name], out[p.name]) for p in props},
    )
