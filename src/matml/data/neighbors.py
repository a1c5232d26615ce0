"""Periodic neighbour lists with vesin (full lists, periodic images included)."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from matml.errors import InputError

__all__ = ["neighbor_list"]


def neighbor_list(
    atoms: Atoms, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs closer than ``cutoff`` (Å), both directions, images included.

    Returns ``(receivers, senders, shifts)``: centre atom, neighbour atom and the integer
    cell shift such that the vector from centre to neighbour is
    ``pos[senders] - pos[receivers] + shifts @ cell``.

    Works for periodic, mixed and non-periodic structures (no cell needed for the last).
    """
    from vesin import NeighborList

    positions = np.asarray(atoms.positions, dtype=np.float64)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell[:], dtype=np.float64)
    if pbc.any():
        if abs(np.linalg.det(cell)) < 1e-8:
            raise InputError(
                "cell is singular but the structure is periodic", field="cell"
            )
        for axis in np.flatnonzero(pbc):
            # vesin needs the periodic image spacing; a cell thinner than the cutoff on
            # a periodic axis is fine (several images are found).
            if np.linalg.norm(cell[axis]) == 0:
                raise InputError(f"cell vector {axis} is zero", field="cell")
    if not pbc.all():
        # vesin wants a full-rank box even for open directions: give open axes a box
        # vector long enough never to matter.
        span = np.ptp(positions, axis=0) if len(positions) else np.zeros(3)
        big = float(span.max(initial=0.0)) + 2 * cutoff + 1.0
        for axis in np.flatnonzero(~pbc):
            if np.linalg.norm(cell[axis]) == 0 or not pbc.any():
                cell[axis] = 0.0
                cell[axis, axis] = big
        if not pbc.any():
            cell = np.eye(3) * big
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    i, j, s = nl.compute(positions, cell, pbc, quantities="ijS")
    return i.astype(np.int32), j.astype(np.int32), s.astype(np.int32)
