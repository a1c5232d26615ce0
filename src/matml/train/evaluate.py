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

__all__ = ["Evaluation", "energy_errors_by", "evaluate"]


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


def energy_errors_by(model, atoms, key: str = "group", *, batch_size: int = 8) -> dict:
    """Energy errors of ``model`` (a :class:`~matml.potential.Potential` or a saved
    model's path), meV/atom, per value of each structure's ``info[key]`` (mlearn's
    ``group``: AIMD-NVT, Elastic, Surface, Vacancy; an extxyz ``config_type``): where
    a model's error comes from.

    Returns ``{value: {"n", "energy_rmse_mev_per_atom",
    "energy_mean_error_mev_per_atom"}}`` (values sorted; the mean error is predicted
    minus reference) over the structures with a reference energy; those without the
    key are counted under ``"(none)"``. Empty when no structure has the key.
    """
    from matml import keys
    from matml.prediction import predict

    atoms = [a for a in atoms if keys.ENERGY in a.info]
    if not any(key in a.info for a in atoms):
        return {}
    pred = np.asarray(predict(model, atoms, batch_size=batch_size)["energy"], float)
    ref = np.array([a.info[keys.ENERGY] for a in atoms], float)
    err = (pred - ref) / np.array([len(a) for a in atoms]) * 1000.0
    names = np.array([str(a.info.get(key, "(none)")) for a in atoms])
    out = {}
    for g in sorted(set(names)):
        e = err[names == g]
        out[g] = {
            "n": int(e.size),
            "energy_rmse_mev_per_atom": float(np.sqrt(np.mean(e**2))),
            "energy_mean_error_mev_per_atom": float(np.mean(e)),
        }
    return out
