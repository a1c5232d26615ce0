"""Periodic neighbour lists with vesin (full lists, periodic images included)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from matml.io.validate import MIN_DISTANCE, check_cell

__all__ = ["neighbor_list"]


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
