"""Predictions of a potential on structures, by name (``matml.predict``).

``matml.predict(model, atoms)`` gives a dict: ``energy`` (eV), ``forces`` ([n, 3]
eV/Å), ``energies`` (per atom, eV), ``stress`` (Voigt, eV/Å^3; periodic cells only),
and every declared property of the model (``dipole`` [3], ``chi`` [n, 3, 3], ...). For
a list of structures each value is a list, one entry per structure. Structures are
batched into a few padded shapes, so a long list compiles a handful of times.

:func:`with_predictions` stores them on copies of the structures (``PREFIX + name``
in ``atoms.info`` or ``atoms.arrays``) for :func:`matml.io.write_extxyz`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

__all__ = ["predict", "with_predictions", "PREFIX"]

PREFIX = "matml_"


def _potential(model):
    if hasattr(model, "outputs"):
        return model
    from matml.potential import load

    return load(model)


def predict(model, atoms: Atoms | Sequence[Atoms], *, batch_size: int = 8) -> dict:
    """Energy, forces, stress, per-atom energies and declared properties (the
    properties alone for a model trained on nothing else).

    Args:
        model: a :class:`~matml.potential.Potential` or the path of a saved model.
        atoms: one structure, or a list of them.
        batch_size: structures per padded batch.
    """
    pot = _potential(model)
    single = isinstance(atoms, Atoms)
    out, _ = _predict(pot, [atoms] if single else list(atoms), batch_size)
    if single:
        return {k: v[0] for k, v in out.items() if v[0] is not None}
    return out


def _predict(pot, atoms_list: list, batch_size: int):
    """:func:`predict` of a list, and the data set it read (its neighbour lists)."""
    import jax
    from flax import nnx

    from matml.data import Buckets, Dataset, GraphLoader
    from matml.io import validate_structures
    from matml.keys import VOIGT_INDEX
    from matml.potential import precision, predict_fn

    out: dict[str, list] = {"energy": [], "forces": [], "energies": [], "stress": []}
    out.update({p.name: [] for p in pot.properties})
    if not atoms_list:
        return out, None
    validate_structures(atoms_list, file="structures to predict", require=())
    ds = Dataset.from_atoms(atoms_list, pot.cutoff, pot.species, name="structures")
    graphdef, state = nnx.split(pot)
    trained = getattr(pot, "energy_trained", True)
    fn = predict_fn(graphdef, trained, pot.dtype, forces=trained)
    buckets = Buckets.for_dataset(ds, batch_size)
    with precision(pot.dtype):
        for graph in GraphLoader(ds, batch_size, buckets=buckets):
            pred = jax.device_get(fn(state, graph.cast(pot.dtype)))
            a = b = 0
            for g in range(int(np.sum(graph.graph_mask))):
                n, m = int(graph.n_node[g]), int(graph.n_edge[g])
                out["energy"].append(float(pred.energy[g]))
                out["forces"].append(np.asarray(pred.forces[a : a + n], np.float64))
                out["energies"].append(
                    np.asarray(pred.node_energies[a : a + n], np.float64)
                )
                periodic = bool(np.all(graph.pbc[g]))
                out["stress"].append(
                    np.asarray(pred.stress[g][VOIGT_INDEX], np.float64)
                    if periodic
                    else None
                )
                for p in pot.properties:
                    v = np.asarray(pred.properties[p.name], np.float64)
                    out[p.name].append(v[p.rows(g, slice(a, a + n), slice(b, b + m))])
                a += n
                b += m
    if not trained:  # a model of other properties alone: no meaningful energy
        for k in ("energy", "forces", "energies", "stress"):
            out.pop(k)
    return out, ds


def with_predictions(
    model, atoms: Atoms | Sequence[Atoms], *, prefix: str = PREFIX, batch_size: int = 8
) -> list[Atoms]:
    """Copies of the structures holding the predictions: ``prefix + name`` in
    ``atoms.info`` (structure level; stress in Voigt order) or ``atoms.arrays`` (atom
    level; 3x3 tensors flattened to 9 columns); edge-level values go to ``info``,
    flattened, in the order of matml's neighbour list, with that list's edges as
    ``prefix + name + "_edges"`` (rows centre, neighbour, shift; what
    :func:`matml.data.property_values` reads back)."""
    pot = _potential(model)
    atoms_list = [atoms] if isinstance(atoms, Atoms) else list(atoms)
    pred, ds = _predict(pot, atoms_list, batch_size)
    levels = {p.name: p.level for p in pot.properties}
    levels.update(energy="structure", stress="structure", forces="atom")
    levels["energies"] = "atom"
    out = []
    for i, a in enumerate(atoms_list):
        b = a.copy()
        b.calc = None
        for name, values in pred.items():
            v = values[i]
            if v is None:
                continue
            key = prefix + name
            if levels[name] == "atom":
                arr = np.asarray(v)
                b.arrays[key] = arr if arr.ndim == 1 else arr.reshape(len(b), -1)
            elif levels[name] == "edge":
                b.info[key] = np.asarray(v).ravel()
                b.info[key + "_edges"] = ds.structures[i].edge_rows().ravel()
            else:
                b.info[key] = np.asarray(v).ravel() if np.ndim(v) else float(v)
        out.append(b)
    return out
