"""Per-structure features from moment invariants, for tabular models of structures.

Each atom's neighbour density within the cutoff is described by the rotation
invariants of :class:`matml.descriptors.MomentInvariants`, once per neighbour
weighting (``"one"``: every neighbour weighs 1, the geometry; or a pymatgen
``Element`` attribute such as ``"X"``, the Pauling electronegativity: the chemistry
around the atom); statistics over a structure's atoms (mean, std, min, max) turn
them into a fixed-length vector per structure, invariant under rotations,
reflections, translations and permutations of the atoms, and under the choice of
unit cell. The volume per atom and the density may be appended.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matml._jit import jit
from matml.errors import InputError

__all__ = ["per_atom_invariants", "invariant_features", "STATISTICS"]

STATISTICS = ("mean", "std", "min", "max")
_AMU_PER_A3_IN_G_PER_CM3 = 1.66053906660


def _descriptors(species, weights, cutoff, max_order, max_degree):
    """One single-channel ``MomentInvariants`` per neighbour weighting."""
    from pymatgen.core import Element

    from matml.descriptors import MomentInvariants

    out = []
    for w in weights:
        if w == "one":
            table = dict.fromkeys(species, 1.0)
        else:
            try:
                table = {s: float(getattr(Element(s), w)) for s in species}
            except (AttributeError, TypeError, ValueError):
                raise InputError(
                    f"{w!r} is not a numeric pymatgen Element attribute",
                    field="weights",
                ) from None
            bad = [s for s, v in table.items() if not np.isfinite(v)]
            if bad:
                raise InputError(f"no {w} for {', '.join(bad)}", field="weights")
        out.append(
            MomentInvariants(
                cutoff=cutoff,
                max_order=max_order,
                max_degree=max_degree,
                species=species,
                weights=table,
            )
        )
    return out


def _batches(sizes: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) ranges of at most ``budget`` atoms (at least one)."""
    out, start, total = [], 0, 0
    for i, n in enumerate(sizes):
        if total and total + n > budget:
            out.append((start, i))
            start, total = i, 0
        total += int(n)
    out.append((start, len(sizes)))
    return out


def per_atom_invariants(
    atoms_list: Sequence,
    *,
    cutoff: float = 5.0,
    max_order: int = 5,
    max_degree: int = 2,
    weights: Sequence[str] = ("one", "X"),
    atom_budget: int = 2048,
    progress: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """Per-atom invariants [total atoms, F] of every weighting, atoms in order.

    Structures go in consecutive batches of at most ``atom_budget`` atoms (a large
    cell goes alone), padded to a few shapes: each new shape compiles once, later
    batches reuse the smallest that fits; all weightings run in one jitted call.
    """
    import jax.numpy as jnp

    from matml.data import Dataset, bucket, collate, round_up
    from matml.tabular.report import progress_bar

    species = tuple(sorted({s for a in atoms_list for s in a.get_chemical_symbols()}))
    descs = _descriptors(species, weights, cutoff, max_order, max_degree)
    fn = jit(lambda g: jnp.concatenate([d.from_graph(g) for d in descs], axis=-1))
    names = [
        f"{w} {lab}"
        for w, d in zip(weights, descs, strict=True)
        for lab in d.feature_labels()
    ]
    chunk = descs[0].chunk_size
    sizes = np.array([len(a) for a in atoms_list])
    batches = _batches(sizes, atom_budget)
    n_graph = max(b - a for a, b in batches) + 1
    shapes: list[tuple[int, int]] = []
    feats = []
    with progress_bar(len(batches), "moment invariants", progress) as step:
        for a, b in batches:
            ds = Dataset.from_atoms(atoms_list[a:b], cutoff, species)
            n_node = int(sizes[a:b].sum()) + 1
            n_edge = sum(s.n_edge for s in ds.structures)
            fits = [(N, E) for N, E in shapes if N >= n_node and E >= n_edge]
            if fits:
                shape = min(fits)
            else:
                shape = (round_up(bucket(n_node, chunk), chunk), bucket(n_edge, 4096))
                shapes.append(shape)
            graph = collate(ds.structures, shape[0], shape[1], n_graph)
            out = np.asarray(fn(graph.to_jax(np.float32)))
            feats.append(out[np.asarray(graph.node_mask)])
            step()
    return np.concatenate(feats).astype(np.float64), names


def invariant_features(
    atoms_list: Sequence,
    *,
    stats: Sequence[str] = ("mean", "std"),
    cell: bool = True,
    **invariant_options,
) -> tuple[np.ndarray, list[str]]:
    """Per-structure features [S, F] and their names: ``stats`` (of
    :data:`STATISTICS`) over each structure's atoms of :func:`per_atom_invariants`
    (``invariant_options`` go to it), then, with ``cell``, the volume per atom (Å^3)
    and the density (g/cm^3)."""
    unknown = [s for s in stats if s not in STATISTICS]
    if unknown:
        raise InputError(
            f"unknown statistic {unknown[0]!r} (use {', '.join(STATISTICS)})",
            field="stats",
        )
    per_atom, names = per_atom_invariants(atoms_list, **invariant_options)
    sizes = np.array([len(a) for a in atoms_list])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    mean = np.add.reduceat(per_atom, starts) / sizes[:, None]
    dev = per_atom - np.repeat(mean, sizes, axis=0)
    by_stat = {
        "mean": lambda: mean,
        "std": lambda: np.sqrt(np.add.reduceat(dev**2, starts) / sizes[:, None]),
        "min": lambda: np.minimum.reduceat(per_atom, starts),
        "max": lambda: np.maximum.reduceat(per_atom, starts),
    }
    cols = [by_stat[s]() for s in stats]
    out_names = [f"{s} {n}" for s in stats for n in names]
    if cell:
        vol = np.array([a.get_volume() for a in atoms_list])
        mass = np.array([a.get_masses().sum() for a in atoms_list])
        cols.append(np.stack([vol / sizes, mass / vol * _AMU_PER_A3_IN_G_PER_CM3], 1))
        out_names += ["volume per atom (Å^3)", "density (g/cm^3)"]
    return np.concatenate(cols, axis=1), out_names
