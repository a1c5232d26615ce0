"""Structures turned into neighbour-listed arrays once, then batched many times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from matml import keys
from matml.data.neighbors import neighbor_list
from matml.errors import InputError
from matml.io.validate import check_target

__all__ = ["Structure", "Dataset", "species_index"]


def species_index(
    symbols: Sequence[str], species: Sequence[str], *, file=None, entry=None
) -> np.ndarray:
    """Map chemical symbols to indices into ``species``; unknown elements are an error."""
    symbols = np.asarray(symbols)
    table = np.asarray(species)
    out = np.zeros(len(symbols), dtype=np.int32)
    known = np.zeros(len(symbols), dtype=bool)
    for i, sym in enumerate(table):  # a loop over species, not atoms
        hit = symbols == sym
        out[hit], known[hit] = i, True
    if not known.all():
        k = int(np.argmin(known))
        raise InputError(
            f"element {symbols[k]} (atom {k}) is not among the model's species "
            f"{', '.join(species)}",
            file=file,
            entry=entry,
            field="numbers",
        )
    return out


def reference_values(atoms: Atoms):
    """``(energy, forces, stress)`` stored on ``atoms`` under :mod:`matml.keys`, each
    ``None`` where absent; stress as a 3x3 array (from Voigt or 3x3)."""
    from ase.stress import voigt_6_to_full_3x3_stress

    energy = atoms.info.get(keys.ENERGY)
    forces = atoms.arrays.get(keys.FORCES)
    stress = atoms.info.get(keys.STRESS)
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        stress = voigt_6_to_full_3x3_stress(stress) if stress.shape == (6,) else stress
    return energy, forces, stress


@dataclass
class Structure:
    """One structure with its neighbour list and (optional) reference values."""

    positions: np.ndarray  # [n, 3]
    species: np.ndarray  # [n]
    cell: np.ndarray  # [3, 3]
    pbc: np.ndarray  # [3]
    receivers: np.ndarray  # [m]
    senders: np.ndarray  # [m]
    shifts: np.ndarray  # [m, 3]
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None  # [3, 3]
    weight: float = 1.0
    # declared properties (matml.properties) this structure holds, by name: [*shape]
    # for structures, [n, *shape] for atoms, [m, *shape] for edges
    properties: dict | None = None

    @property
    def n_node(self) -> int:
        return len(self.positions)

    @property
    def n_edge(self) -> int:
        return len(self.senders)

    def edge_rows(self) -> np.ndarray:
        """Its edges as rows ``(centre, neighbour, shift_a, shift_b, shift_c)``
        ``[m, 5]``: how edge-level values name their edges in files."""
        return edge_rows(self.receivers, self.senders, self.shifts)

    def target(self, prop):
        """This structure's reference value of a property (:mod:`matml.properties`),
        or None: the built-in energy, forces and stress (a stress only of a cell
        periodic in all three directions), or a declared property."""
        if prop.builtin:
            if prop.name == "stress" and not self.pbc.all():
                return None
            return getattr(self, prop.name)
        return self.properties.get(prop.name) if self.properties else None

    @classmethod
    def from_atoms(
        cls,
        atoms: Atoms,
        cutoff: float,
        species: Sequence[str],
        *,
        file=None,
        entry=None,
        properties: Sequence = (),
    ) -> Structure:
        """Neighbour-list ``atoms`` and pick up its reference values (matml.keys) and
        those of the declared ``properties`` it holds (see :func:`property_values`)."""
        try:
            receivers, senders, shifts = neighbor_list(atoms, cutoff)
        except InputError as err:
            raise InputError(
                err.message, file=file, entry=entry, field=err.field
            ) from None
        energy, forces, stress = reference_values(atoms)
        return cls(
            positions=np.asarray(atoms.positions, dtype=np.float64),
            species=species_index(
                atoms.get_chemical_symbols(), species, file=file, entry=entry
            ),
            cell=np.asarray(atoms.cell[:], dtype=np.float64),
            pbc=np.asarray(atoms.pbc, dtype=bool),
            receivers=receivers,
            senders=senders,
            shifts=shifts,
            energy=None if energy is None else float(energy),
            forces=None if forces is None else np.asarray(forces, dtype=np.float64),
            stress=stress,
            weight=float(atoms.info.get(keys.WEIGHT, 1.0)),
            properties=property_values(
                atoms,
                properties,
                len(senders),
                edges=(receivers, senders, shifts),
                file=file,
                entry=entry,
            )
            if properties
            else None,
        )


def property_values(
    atoms: Atoms,
    properties: Sequence,
    n_edge: int,
    *,
    edges=None,
    file=None,
    entry=None,
) -> dict:
    """Values of the declared ``properties`` that ``atoms`` holds, by name.

    Structure-level values are read from ``atoms.info[key]``, atom-level ones from
    ``atoms.arrays[key]`` (``[n, *shape]``, or flattened per atom: ``[n, 9]`` for a
    3x3 tensor), edge-level ones from ``atoms.info[key]``, flattened: one value per edge
    of matml's neighbour list (:func:`matml.data.neighbor_list` at the model's cutoff).
    Their order is that list's, unless ``atoms.info[key + "_edges"]`` names each
    value's edge as rows ``(centre, neighbour, shift_a, shift_b, shift_c)`` (flattened
    integers): the values are then matched to matml's edges (``edges``: its
    ``(receivers, senders, shifts)``), and every edge must have exactly one. A
    malformed or non-finite value is an error naming the key.
    """
    out = {}
    for p in properties:
        source = atoms.arrays if p.level == "atom" else atoms.info
        raw = source.get(p.key)
        if raw is None:
            continue
        if p.reduce == "moment" and p.level == "structure" and atoms.pbc.any():
            raise InputError(
                f"property {p.name} is a moment of charges (reduce: moment), which a "
                "periodic structure does not define (it depends on where atoms are "
                "wrapped); declare reduce: sum",
                file=file,
                entry=entry,
                field=p.key,
            )
        count = {"structure": None, "atom": len(atoms), "edge": n_edge}[p.level]
        index = atoms.info.get(p.key + "_edges") if p.level == "edge" else None
        try:
            if index is not None:
                value = _edge_values(p, raw, index, edges)
            else:
                value = p.value(raw, count=count)
        except (TypeError, ValueError) as err:
            raise InputError(
                f"property {p.name}: {err}", file=file, entry=entry, field=p.key
            ) from None
        if not np.all(np.isfinite(value)):
            raise InputError(
                f"property {p.name} is not finite", file=file, entry=entry, field=p.key
            )
        out[p.name] = value
    return out


def edge_rows(receivers, senders, shifts) -> np.ndarray:
    """A neighbour list as integer rows ``(centre, neighbour, shift_a, shift_b,
    shift_c)`` ``[m, 5]``."""
    return np.column_stack([receivers, senders, np.asarray(shifts)]).astype(np.int64)


def _edge_values(prop, raw, index, edges) -> np.ndarray:
    """Edge values given with their edges' (centre, neighbour, shift) rows, in the
    order of matml's neighbour list ``edges = (receivers, senders, shifts)``."""
    idx = np.asarray(index)
    if idx.size % 5 or not np.all(np.isfinite(idx.astype(float))):
        raise ValueError(
            f"{prop.key}_edges must hold rows of 5 integers (centre, neighbour, "
            "shift_a, shift_b, shift_c)"
        )
    idx = idx.reshape(-1, 5)
    if not np.all(idx == np.round(idx)):
        raise ValueError(f"{prop.key}_edges must hold integers")
    idx = idx.astype(np.int64)
    given = prop.value(raw, count=len(idx))
    row_of = {}
    for k, row in enumerate(idx.tolist()):
        if tuple(row) in row_of:
            raise ValueError(f"edge {tuple(row)} is given twice in {prop.key}_edges")
        row_of[tuple(row)] = k
    wanted = [tuple(row) for row in edge_rows(*edges).tolist()]
    extra = row_of.keys() - set(wanted)
    if extra:
        raise ValueError(
            f"edge {min(extra)} (centre, neighbour, shift) of {prop.key}_edges is not "
            f"in the neighbour list at the model's cutoff ({len(extra)} such edges)"
        )
    missing = [row for row in wanted if row not in row_of]
    if missing:
        raise ValueError(
            f"edge {missing[0]} (centre, neighbour, shift) of the neighbour list at "
            f"the model's cutoff has no value in {prop.key}_edges ({len(missing)} "
            "such edges)"
        )
    take = np.array([row_of[row] for row in wanted], np.int64)
    return given[take]


@dataclass
class Dataset:
    """A list of :class:`Structure` sharing one cutoff and one species tuple."""

    structures: list[Structure]
    cutoff: float
    species: tuple[str, ...]
    name: str | None = None  # where the structures came from, named in errors
    properties: tuple = ()  # declared properties (matml.properties) read with them

    @classmethod
    def from_atoms(
        cls,
        atoms_list: Sequence[Atoms],
        cutoff: float,
        species: Sequence[str] | None = None,
        *,
        name: str | None = None,
        progress: bool = False,
        properties: Sequence = (),
    ) -> Dataset:
        """Neighbour-list every structure once. ``species`` defaults to those present;
        the values of the declared ``properties`` are read with them."""
        if species is None:
            species = sorted({s for a in atoms_list for s in a.get_chemical_symbols()})
        species = tuple(species)
        it = enumerate(atoms_list)
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, total=len(atoms_list), desc="neighbour lists", leave=False)
        properties = tuple(properties)
        structures = [
            Structure.from_atoms(
                a, cutoff, species, file=name, entry=i, properties=properties
            )
            for i, a in it
        ]
        return cls(structures, float(cutoff), species, name, properties)

    def __len__(self) -> int:
        return len(self.structures)

    @property
    def lazy(self) -> bool:
        """Whether the structures are read from a store on demand (not in memory)."""
        return hasattr(self.structures, "subset")

    def sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Atoms and edges of each structure, without reading a stored one."""
        if self.lazy:
            return self.structures.n_node, self.structures.n_edge
        return (
            np.array([s.n_node for s in self.structures], np.int64),
            np.array([s.n_edge for s in self.structures], np.int64),
        )

    def energies(self) -> np.ndarray:
        """Reference energy of each structure (NaN where absent), eV."""
        if self.lazy:
            return self.structures.graph_field("energy").astype(np.float64)
        return np.array(
            [np.nan if s.energy is None else s.energy for s in self.structures],
            np.float64,
        )

    def force_squares(self) -> tuple[float, int]:
        """Sum of squared force components and their number, over structures with
        forces."""
        if self.lazy:
            has = self.structures.graph_field("has_forces").astype(bool)
            n = int(np.sum(self.structures.n_node[has])) * 3
            return float(np.sum(self.structures.graph_field("force_sq"))), n
        forces = [s.forces for s in self.structures if s.forces is not None]
        if not forces:
            return 0.0, 0
        f = np.concatenate(forces)
        return float(np.sum(f**2)), f.size

    def __getitem__(self, index):
        if isinstance(index, slice | list | np.ndarray):
            idx = np.arange(len(self))[index] if isinstance(index, slice) else index
            if self.lazy:
                return Dataset(
                    self.structures.subset(idx), self.cutoff, self.species, self.name
                )
            return Dataset(
                [self.structures[i] for i in idx],
                self.cutoff,
                self.species,
                self.name,
                self.properties,
            )
        return self.structures[index]

    def split(
        self, fraction: float, seed: int = 0, labels=None
    ) -> tuple[Dataset, Dataset]:
        """Random split into (rest, held-out ``fraction``), reproducible with ``seed``.

        With ``labels`` (one per structure, e.g. mlearn's ``group``) the split is
        stratified: each label holds out ``fraction`` of its structures (rounded, at
        least one of any label with more than two), so that a rare kind of structure
        (a surface) is in the held-out part too.
        """
        n = len(self)
        rng = np.random.default_rng(seed)
        if labels is None:
            n_out = int(round(fraction * n))
            if fraction > 0 and n_out == 0 and n > 1:
                n_out = 1
            perm = rng.permutation(n)
            return self[np.sort(perm[n_out:])], self[np.sort(perm[:n_out])]
        labels = [str(x) for x in labels]
        if len(labels) != n:
            raise InputError(
                f"{len(labels)} split labels for {n} structures", file=self.name
            )
        out = []
        for lab in sorted(set(labels)):
            idx = np.array([i for i, x in enumerate(labels) if x == lab])
            k = int(round(fraction * len(idx)))
            if fraction > 0 and k == 0 and len(idx) > 2:
                k = 1
            out.extend(rng.permutation(idx)[:k].tolist())
        held = np.zeros(n, bool)
        held[out] = True
        return self[np.flatnonzero(~held)], self[np.flatnonzero(held)]

    def check_properties(self, properties) -> None:
        """Raise if a property the model predicts was not read with the structures
        (build the data set with ``properties=potential.properties``)."""
        have = {p.name for p in self.properties}
        missing = [p.name for p in properties if p.name not in have]
        if missing:
            raise InputError(
                f"the model predicts {', '.join(missing)}, which this data set was "
                "not read with: pass properties=potential.properties to "
                "Dataset.from_atoms",
                file=self.name,
            )

    def property_counts(self) -> dict[str, int]:
        """How many structures hold each declared property."""
        return {
            p.name: sum(
                1 for s in self.structures if s.properties and p.name in s.properties
            )
            for p in self.properties
        }

    def require(self, *, forces: bool = False, energy: bool = True) -> None:
        """Raise if a structure lacks a target that the loss needs, or holds a bad one
        (the rule of :func:`matml.io.validate.check_target`)."""
        if self.lazy:  # a store's values were checked when it was prepared
            if forces:
                has = self.structures.graph_field("has_forces").astype(bool)
                if not has.all():
                    i = int(self.structures.index[np.argmin(has)])
                    raise InputError(
                        "has no forces, and the loss needs them (train.forces_weight "
                        "> 0)",
                        file=self.name,
                        entry=i,
                        field=keys.FORCES,
                    )
            return
        for i, s in enumerate(self.structures):

            def err(message, field, i=i):
                return InputError(message, file=self.name, entry=i, field=field)

            check_target(keys.ENERGY, s.energy, (), energy, err)
            check_target(keys.FORCES, s.forces, (s.n_node, 3), forces, err)
            check_target(keys.STRESS, s.stress, (3, 3), False, err)
