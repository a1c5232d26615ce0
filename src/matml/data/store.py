"""Graph stores: data sets larger than memory, neighbour-listed once and streamed.

A store is a folder of flat little-endian binary arrays, one file per field, with a JSON
header (``store.json``) that names each file's dtype, shape and byte size::

    store.json                 format, version, matml version, cutoff, species, counts
    positions.bin  [N, 3] f8   numbers.bin  [N] u1     forces.bin [N, 3] f8
    receivers.bin  [E] i4      senders.bin  [E] i4     shifts.bin [E, 3] i2
    node_offset.bin [G+1] i8   edge_offset.bin [G+1] i8
    cell.bin [G, 3, 3] f8      pbc.bin [G, 3] u1       energy.bin [G] f8
    stress.bin [G, 3, 3] f8    has_forces.bin [G] u1   has_stress.bin [G] u1
    weight.bin [G] f8          force_sq.bin [G] f8     counts.bin [G, S] i4

Why flat files and not HDF5: reading a structure is a handful of ``pread`` calls at
offsets known from the per-structure arrays, which is all that streaming needs; it adds
no dependency, any process or thread can read it at once, and pages read go to the
operating system's file cache, not into the training process's resident memory (a
memory map would count them). Per-structure metadata (a few hundred bytes a structure)
is held in memory; per-atom and per-edge arrays never are.

A store is written into a temporary folder beside its destination and renamed when
complete, so a killed ``prepare`` leaves no half-written store behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from matml import keys
from matml.data.dataset import Dataset, Structure, reference_values
from matml.errors import InputError

__all__ = [
    "FORMAT",
    "VERSION",
    "GraphStore",
    "StoreWriter",
    "StoredStructures",
    "is_store",
    "prepare_store",
]

FORMAT = "matml-graph-store"
VERSION = 1
HEADER = "store.json"

# field -> (dtype, trailing shape, level): level "node", "edge" or "graph"
_FIELDS = {
    "positions": ("<f8", (3,), "node"),
    "numbers": ("u1", (), "node"),
    "forces": ("<f8", (3,), "node"),
    "receivers": ("<i4", (), "edge"),
    "senders": ("<i4", (), "edge"),
    "shifts": ("<i2", (3,), "edge"),
    "cell": ("<f8", (3, 3), "graph"),
    "pbc": ("u1", (3,), "graph"),
    "energy": ("<f8", (), "graph"),
    "stress": ("<f8", (3, 3), "graph"),
    "has_forces": ("u1", (), "graph"),
    "has_stress": ("u1", (), "graph"),
    "weight": ("<f8", (), "graph"),
    "force_sq": ("<f8", (), "graph"),
}
_GRAPH_FIELDS = [k for k, v in _FIELDS.items() if v[2] == "graph"]


def is_store(path) -> bool:
    """Whether ``path`` is a folder holding a graph store."""
    return path is not None and (Path(path) / HEADER).is_file()


def _matml_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("matml")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree
        return "unknown"


class StoreWriter:
    """Appends structures to a new store; :meth:`close` makes it appear.

    >>> # with StoreWriter("train.store", cutoff=5.0) as w: w.add(atoms_list)
    """

    def __init__(self, path, cutoff: float, *, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise InputError(
                "exists already; choose another name or pass --overwrite",
                file=self.path,
            )
        self.cutoff = float(cutoff)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.parent / f".{self.path.name}.partial-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self._fh = {k: open(self.tmp / f"{k}.bin", "wb") for k in _FIELDS}
        self._rows = {k: 0 for k in _FIELDS}
        self._node_off, self._edge_off = [0], [0]
        self._counts: list[dict[int, int]] = []
        self.sources: list[str] = []
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _write(self, name: str, array) -> None:
        dtype, shape, _ = _FIELDS[name]
        a = np.ascontiguousarray(np.asarray(array).astype(dtype, copy=False))
        if a.shape[1:] != shape:
            a = a.reshape((-1, *shape))
        self._fh[name].write(a.tobytes())
        self._rows[name] += len(a)

    def add(self, atoms_list: Iterable[Atoms], *, source: str | None = None) -> int:
        """Neighbour-list and append structures (checked as training data: an energy,
        finite values, no overlapping atoms); returns how many were added."""
        from matml.data.neighbors import neighbor_list
        from matml.io.validate import validate_structures

        atoms_list = list(atoms_list)
        validate_structures(atoms_list, file=source, require=[keys.ENERGY])
        if source is not None:
            self.sources.append(str(source))
        for entry, atoms in enumerate(atoms_list):
            if (atoms.numbers > 255).any():
                raise InputError("atomic number above 255", file=source, entry=entry)
            r, s, shifts = neighbor_list(atoms, self.cutoff, file=source, entry=entry)
            if len(shifts) and np.abs(shifts).max() > np.iinfo(np.int16).max:
                raise InputError(
                    "a periodic image lies more than 32767 cells away: the cell is "
                    "far smaller than the cutoff",
                    file=source,
                    entry=entry,
                )
            n = len(atoms)
            energy, forces, stress = reference_values(atoms)
            has_stress = stress is not None and bool(atoms.pbc.all())
            self._write("positions", atoms.positions)
            self._write("numbers", atoms.numbers)
            self._write("forces", np.zeros((n, 3)) if forces is None else forces)
            self._write("receivers", r)
            self._write("senders", s)
            self._write("shifts", shifts)
            self._write("cell", atoms.cell[:])
            self._write("pbc", atoms.pbc)
            self._write("energy", [float(energy)])
            self._write("stress", np.zeros((3, 3)) if not has_stress else stress)
            self._write("has_forces", [forces is not None])
            self._write("has_stress", [has_stress])
            self._write("weight", [float(atoms.info.get(keys.WEIGHT, 1.0))])
            fsq = 0.0 if forces is None else float(np.sum(np.asarray(forces) ** 2))
            self._write("force_sq", [fsq])
            self._node_off.append(self._node_off[-1] + n)
            self._edge_off.append(self._edge_off[-1] + len(r))
            z, c = np.unique(atoms.numbers, return_counts=True)
            self._counts.append(dict(zip(z.tolist(), c.tolist(), strict=True)))
        return len(atoms_list)

    def abort(self) -> None:
        """Drop everything written (the destination is left untouched)."""
        for fh in self._fh.values():
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.closed = True

    def close(self) -> GraphStore:
        """Write the header and move the store into place (atomically)."""
        if not self._counts:
            self.abort()
            raise InputError("no structures to store", file=self.path)
        zs = sorted({z for c in self._counts for z in c})
        counts = np.array([[c.get(z, 0) for z in zs] for c in self._counts])
        extra = {  # known only now, written whole
            "node_offset": ("<i8", (), np.array(self._node_off)),
            "edge_offset": ("<i8", (), np.array(self._edge_off)),
            "counts": ("<i4", (len(zs),), counts),
        }
        for name, (dtype, _, a) in extra.items():
            self._fh[name] = open(self.tmp / f"{name}.bin", "wb")
            self._fh[name].write(np.ascontiguousarray(a.astype(dtype)).tobytes())
        G, N, E = len(self._counts), self._node_off[-1], self._edge_off[-1]
        rows = {"node": N, "edge": E, "graph": G}
        layout = {
            k: (d, shape, rows[level]) for k, (d, shape, level) in _FIELDS.items()
        }
        layout.update({k: (d, shape, len(a)) for k, (d, shape, a) in extra.items()})
        files = {}
        for name, fh in self._fh.items():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            dtype, shape, n_rows = layout[name]
            files[name] = {
                "dtype": dtype,
                "shape": [n_rows, *shape],
                "bytes": int((self.tmp / f"{name}.bin").stat().st_size),
            }
        header = {
            "format": FORMAT,
            "version": VERSION,
            "matml": _matml_version(),
            "cutoff": self.cutoff,
            "species": [chemical_symbols[z] for z in zs],
            "n_structures": G,
            "n_atoms": N,
            "n_edges": E,
            "sources": self.sources,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "files": files,
        }
        (self.tmp / HEADER).write_text(json.dumps(header, indent=1))
        if self.path.exists():  # --overwrite: the old store goes only now
            shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
        os.replace(self.tmp, self.path)
        self.closed = True
        return GraphStore(self.path)


def prepare_store(
    files: Sequence[str | os.PathLike],
    out,
    cutoff: float,
    *,
    format: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    **read_keys,
) -> GraphStore:
    """Read structure files one at a time, neighbour-list them and write a store.

    Memory follows the largest single input file, not the whole data set (split a huge
    file to keep it low); the store itself is never held in memory.
    """
    from matml.io import read

    files = [Path(f) for f in files]
    for f in files:
        if not f.is_file():
            raise InputError("no such file", file=f)
    with StoreWriter(out, cutoff, overwrite=overwrite) as w:
        it = files
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(files, desc="prepare", unit="file")
        for f in it:
            w.add(read(f, format=format, **read_keys), source=str(f))
    return GraphStore(out)


class GraphStore:
    """An opened store: header checked, per-structure arrays in memory, the rest read
    on demand with ``pread`` (thread-safe)."""

    def __init__(self, path):
        self.path = Path(path)
        self.header = self._read_header()
        self.cutoff = float(self.header["cutoff"])
        self.species = tuple(self.header["species"])
        self._fd = {}
        files = self.header["files"]
        for name in (*_FIELDS, "node_offset", "edge_offset", "counts"):
            info = files.get(name)
            if info is None:
                raise InputError(f"no entry for {name}.bin in {HEADER}", file=self.path)
            p = self.path / f"{name}.bin"
            size = p.stat().st_size if p.is_file() else -1
            if size != info["bytes"]:
                got = "missing" if size < 0 else f"{size:,} bytes"
                raise InputError(
                    f"{name}.bin is {got}, {HEADER} says {info['bytes']:,}: the store "
                    "is truncated or damaged; prepare it again",
                    file=self.path,
                )
            self._fd[name] = os.open(p, os.O_RDONLY)
            weakref.finalize(self, os.close, self._fd[name])
        meta = {}
        for name in (*_GRAPH_FIELDS, "node_offset", "edge_offset", "counts"):
            meta[name] = self._read(name, 0, files[name]["shape"][0])
        self.meta = meta
        self.node_offset = meta["node_offset"]
        self.edge_offset = meta["edge_offset"]
        if (
            len(self.node_offset) != len(self) + 1
            or self.node_offset[-1] != self.header["n_atoms"]
            or self.edge_offset[-1] != self.header["n_edges"]
        ):
            raise InputError(
                "offsets disagree with the header: the store is damaged; prepare it "
                "again",
                file=self.path,
            )
        self.n_node = np.diff(self.node_offset).astype(np.int64)
        self.n_edge = np.diff(self.edge_offset).astype(np.int64)

    def _read_header(self) -> dict:
        p = self.path / HEADER
        if not p.is_file():
            raise InputError(f"not a graph store (no {HEADER})", file=self.path)
        try:
            h = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{HEADER} is not valid JSON", file=self.path) from None
        if not isinstance(h, dict) or h.get("format") != FORMAT:
            raise InputError(f"{HEADER} does not describe a {FORMAT}", file=self.path)
        if h.get("version") != VERSION:
            raise InputError(
                f"written by matml {h.get('matml', '?')} in store format version "
                f"{h.get('version')}; this matml ({_matml_version()}) reads version "
                f"{VERSION}: prepare the store again",
                file=self.path,
            )
        return h

    def __len__(self) -> int:
        return int(self.header["n_structures"])

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        info = self.header["files"][name]
        dtype = np.dtype(info["dtype"])
        shape = tuple(info["shape"][1:])
        row = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        nbytes = (stop - start) * row
        buf = os.pread(self._fd[name], nbytes, start * row) if nbytes else b""
        if len(buf) != nbytes:
            raise InputError(
                f"{name}.bin ends early: the store is truncated", file=self.path
            )
        return np.frombuffer(buf, dtype).reshape((stop - start, *shape))

    def structure(self, i: int, species_map: np.ndarray) -> Structure:
        """Structure ``i`` with species indices through ``species_map`` (Z -> index)."""
        a, b = int(self.node_offset[i]), int(self.node_offset[i + 1])
        c, d = int(self.edge_offset[i]), int(self.edge_offset[i + 1])
        m = self.meta
        species = species_map[self._read("numbers", a, b)]
        return Structure(
            positions=self._read("positions", a, b),
            species=species,
            cell=m["cell"][i],
            pbc=m["pbc"][i].astype(bool),
            receivers=self._read("receivers", c, d),
            senders=self._read("senders", c, d),
            shifts=self._read("shifts", c, d).astype(np.int32),
            energy=float(m["energy"][i]),
            forces=self._read("forces", a, b) if m["has_forces"][i] else None,
            stress=m["stress"][i] if m["has_stress"][i] else None,
            weight=float(m["weight"][i]),
        )

    def dataset(
        self, cutoff: float | None = None, species: Sequence[str] | None = None
    ) -> Dataset:
        """The whole store as a :class:`Dataset` read lazily; ``cutoff`` (the model's)
        must be the store's, ``species`` (default: the store's) must hold them all."""
        if cutoff is not None and abs(float(cutoff) - self.cutoff) > 1e-9:
            raise InputError(
                f"prepared with cutoff {self.cutoff} Å but the model's is {cutoff} Å: "
                "prepare it again with --cutoff "
                f"{cutoff}, or set model.cutoff: {self.cutoff}",
                file=self.path,
            )
        species = tuple(species or self.species)
        missing = [s for s in self.species if s not in species]
        if missing:
            raise InputError(
                f"holds {', '.join(missing)}, not among the model's species "
                f"{', '.join(species)}",
                file=self.path,
            )
        return Dataset(
            StoredStructures(self, np.arange(len(self)), species),
            self.cutoff,
            species,
            str(self.path),
        )


class StoredStructures(Sequence):
    """A lazy list of a store's structures (a subset, in a given order): indexing reads
    from disk; :meth:`subset` and the size arrays do not."""

    def __init__(self, store: GraphStore, index: np.ndarray, species: Sequence[str]):
        self.store = store
        self.index = np.asarray(index, dtype=np.int64)
        self.species = tuple(species)
        table = np.zeros(256, np.int32)
        for k, s in enumerate(self.species):
            table[chemical_symbols.index(s)] = k
        self._map = table

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.subset(np.arange(len(self))[i])
        return self.store.structure(int(self.index[i]), self._map)

    def subset(self, idx) -> StoredStructures:
        return StoredStructures(
            self.store, self.index[np.asarray(idx, int)], self.species
        )

    @property
    def n_node(self) -> np.ndarray:
        return self.store.n_node[self.index]

    @property
    def n_edge(self) -> np.ndarray:
        return self.store.n_edge[self.index]

    def graph_field(self, name: str) -> np.ndarray:
        """A per-structure array of the store (energy, has_forces, force_sq, ...)."""
        return self.store.meta[name][self.index]

    def species_counts(self) -> np.ndarray:
        """Atoms of each of ``species`` per structure [G, S]."""
        own = self.store.meta["counts"][self.index]
        out = np.zeros((len(self), len(self.species)), np.int64)
        for k, s in enumerate(self.store.species):
            out[:, self.species.index(s)] = own[:, k]
        return out
