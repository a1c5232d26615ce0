"""Periodic neighbour lists with vesin (full lists, periodic images included)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from matml.io.validate import MIN_DISTANCE, check_cell

__all__ = ["VerletList", "neighbor_list"]


def neighbor_list(
    atoms: Atoms, cutoff: float, *, file=None, entry=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs closer than ``cutoff`` (Å), both directions, images included.

    Returns ``(receivers, senders, shifts)``: centre atom, neighbour atom and the integer
    cell shift such that the vector from centre to neighbour is
    ``pos[senders] - pos[receivers] + shifts @ cell``. Pairs are sorted by centre atom
    (models may sum over neighbours with sorted segment sums).

    Works for periodic, mixed and non-periodic structures; open axes need no cell
    vector. A singular or degenerate periodic cell raises ``InputError``.
    """
    from vesin import NeighborList

    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        check_cell(atoms, MIN_DISTANCE, file=file, entry=entry)
    # vesin ignores the box rows of open axes; zero them so any value there is fine
    box = np.asarray(atoms.cell[:], dtype=np.float64) * pbc[:, None]
    positions = np.asarray(atoms.positions, dtype=np.float64)
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, s = nl.compute(positions, box, [bool(p) for p in pbc], quantities="ijS")
    order = np.argsort(i, kind="stable")  # sorted by centre: sorted segment sums
    return (
        i[order].astype(np.int32),
        j[order].astype(np.int32),
        s[order].astype(np.int32),
    )


class VerletList:
    """A neighbour list for repeated calls on moving atoms (MD, relaxations).

    Built with vesin for ``cutoff + skin`` and reused while no atom has moved more
    than ``skin / 2`` since the build and the cell, periodicity and atoms are
    unchanged (then no pair can have come within ``cutoff`` unseen). Each call
    returns the pairs closer than ``cutoff`` now, with their distances: the same set
    :func:`neighbor_list` would give, sorted by centre atom. ``skin=0`` rebuilds at
    every call, in :func:`neighbor_list`'s exact order.

    >>> from ase.build import bulk
    >>> atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    >>> nl = VerletList(cutoff=3.0, skin=1.0)
    >>> r, s, shifts, d = nl.update(atoms)
    >>> atoms.positions[0, 0] += 0.1
    >>> len(nl.update(atoms)[0]) == len(neighbor_list(atoms, 3.0)[0]), nl.builds
    (True, 1)
    """

    def __init__(self, cutoff: float, skin: float = 1.0):
        if not skin >= 0:
            raise ValueError(f"skin must be >= 0 Å, got {skin}")
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.builds = 0  # how many times vesin ran
        self._built = None  # (positions, cell, pbc, numbers) of the last build

    def _valid(self, atoms: Atoms) -> bool:
        if self._built is None or self.skin == 0:
            return False
        positions, cell, pbc, numbers = self._built
        if len(atoms) != len(positions):
            return False
        if not (
            np.array_equal(atoms.cell[:], cell)
            and np.array_equal(atoms.pbc, pbc)
            and np.array_equal(atoms.numbers, numbers)
        ):
            return False
        u = atoms.positions - positions
        return (
            float(np.einsum("ij,ij->i", u, u).max(initial=0.0)) < (0.5 * self.skin) ** 2
        )

    def update(
        self, atoms: Atoms, *, file=None, entry=None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(receivers, senders, shifts, distances)`` of the pairs now closer than
        ``cutoff``, as :func:`neighbor_list` defines them."""
        if not self._valid(atoms):
            r, s, shifts = neighbor_list(
                atoms, self.cutoff + self.skin, file=file, entry=entry
            )
            cell = np.array(atoms.cell[:], dtype=np.float64)
            # the image offsets are constant while the list lives
            self._edges = (r, s, shifts, shifts @ cell)
            self._built = (
                np.array(atoms.positions, dtype=np.float64),
                cell,
                np.array(atoms.pbc, dtype=bool),
                np.array(atoms.numbers),
            )
            self.builds += 1
        r, s, shifts, offsets = self._edges
        x = atoms.positions
        d = x[s] - x[r] + offsets
        d = np.sqrt(np.einsum("ij,ij->i", d, d))
        if self.skin == 0:
            return r, s, shifts, d
        keep = d < self.cutoff
        return r[keep], s[keep], shifts[keep], d[keep]
