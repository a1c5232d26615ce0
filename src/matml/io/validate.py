"""Checks of structures before they are used: finite values, sane cells, no overlaps.

Every problem raises :class:`~matml.errors.InputError` naming the file, the entry (index
in the list, from 0) and the field, on one line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from ase import Atoms

from matml import keys
from matml.errors import InputError

__all__ = [
    "validate_structures",
    "check_cell",
    "check_target",
    "check_pair_distances",
    "TARGETS",
    "MIN_DISTANCE",
]

MIN_DISTANCE = 0.1
"""Å: atoms closer than this are an input error everywhere (reading, the calculator)."""

TARGETS = (keys.ENERGY, keys.FORCES, keys.STRESS)
"""The reference values a structure may carry (and ``require`` may name)."""

_SEARCH = 1.5  # Å, the smallest radius handed to vesin (0.07 s for 214 structures)

_EXPECTED = {keys.ENERGY: "info", keys.FORCES: "arrays", keys.STRESS: "info"}


def _target(atoms: Atoms, name: str):
    store = atoms.arrays if _EXPECTED[name] == "arrays" else atoms.info
    return store.get(name)


def check_target(name: str, value, shape: tuple, required: bool, err) -> None:
    """The one rule for a reference value: present if ``required``, numeric, of
    ``shape``, finite. ``err(message, field)`` makes the exception to raise."""
    if value is None:
        if required:
            where = f'atoms.{_EXPECTED[name]}["{name}"]'
            raise err(f"missing, but required ({where})", name)
        return
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise err(f"not numeric: {value!r}", name) from None
    if arr.shape != tuple(shape):
        raise err(f"has shape {arr.shape}, expected {tuple(shape)}", name)
    bad = ~np.isfinite(arr)
    if bad.any():
        kind = "NaN" if np.isnan(arr).any() else "Inf"
        where = "" if arr.ndim == 0 else f" (at {np.argwhere(bad)[0].tolist()})"
        raise err(f"{kind} value{where}", name)


def check_pair_distances(i, j, shift, d, err, min_distance: float = MIN_DISTANCE):
    """Raise ``err(..., "positions")`` if the shortest distance ``d`` (pairs ``i``,
    ``j``, ``j`` in the periodic image ``shift``) is below ``min_distance``."""
    if len(d) == 0:
        return
    k = int(np.argmin(d))
    if d[k] >= min_distance:
        return
    a, b = int(i[k]), int(j[k])
    what = (
        f"atoms {a} and {b}"
        if not np.any(shift[k])
        else f"atom {a} and the periodic image {np.asarray(shift[k]).tolist()} of atom {b}"
    )
    raise err(f"{what} are {d[k]:.3g} Å apart (< {min_distance} Å)", "positions")


def _check_targets(atoms: Atoms, require, err) -> None:
    n = len(atoms)
    shapes = {keys.ENERGY: (), keys.FORCES: (n, 3), keys.STRESS: (6,)}
    for name in TARGETS:
        check_target(name, _target(atoms, name), shapes[name], name in require, err)


def check_cell(
    atoms: Atoms, min_distance: float = MIN_DISTANCE, *, file=None, entry=None
):
    """Raise :class:`InputError` if a periodic cell is singular or thinner than
    ``min_distance`` along a periodic axis (open axes may have any cell vector)."""

    def err(message, field):
        return InputError(message, file=file, entry=entry, field=field)

    _check_cell(atoms, min_distance, err)


def _check_cell(atoms: Atoms, min_distance: float, err) -> None:
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not np.isfinite(cell).all():
        raise err("cell holds NaN or Inf", "cell")
    periodic = np.flatnonzero(atoms.pbc)
    if periodic.size == 0:
        return
    vecs = cell[periodic]
    lengths = np.linalg.norm(vecs, axis=1)
    if (lengths < 1e-8).any():
        axis = int(periodic[np.argmin(lengths)])
        raise err(f"singular cell: periodic axis {axis} has a zero cell vector", "cell")
    gram = vecs @ vecs.T
    vol = np.sqrt(max(np.linalg.det(gram), 0.0))
    if vol / np.prod(lengths) < 1e-6:
        raise err(
            f"singular cell: the periodic cell vectors are (nearly) linearly "
            f"dependent (volume {vol:.3g} Å^{periodic.size})",
            "cell",
        )
    for k, axis in enumerate(periodic):
        rest = np.delete(np.delete(gram, k, 0), k, 1)
        height = vol / np.sqrt(np.linalg.det(rest)) if rest.size else vol
        if height < min_distance:
            raise err(
                f"degenerate cell: its height along periodic axis {axis} is "
                f"{height:.3g} Å < {min_distance} Å, so atoms overlap their own images",
                "cell",
            )


def validate_structures(
    atoms_list: Sequence[Atoms],
    *,
    file: str | os.PathLike | None = None,
    require: Sequence[str] = (keys.ENERGY, keys.FORCES),
    min_distance: float = MIN_DISTANCE,
) -> Sequence[Atoms]:
    """Check a list of structures; raise on the first problem, else return the list.

    Checked, per structure: at least one atom and known elements; finite positions and
    cell; a periodic cell that is not singular or degenerate; no two atoms (periodic
    images included) closer than ``min_distance``; the targets named in ``require``
    present; every target present finite and of the right shape.

    Args:
        atoms_list: the structures.
        file: named in the error messages (where the structures came from).
        require: targets that must be present (``"energy"``, ``"forces"``,
            ``"stress"``).
        min_distance: the smallest allowed interatomic distance, Å (0 to skip).

    Returns:
        ``atoms_list`` itself.

    Raises:
        InputError: naming file, entry (index from 0) and field.

    >>> from ase import Atoms
    >>> bad = Atoms("H2", positions=[[0, 0, 0], [0.05, 0, 0]])
    >>> validate_structures([bad], file="x.xyz", require=())
    Traceback (most recent call last):
    ...
    matml.errors.InputError: x.xyz: entry 0: field positions: atoms 0 and 1 are 0.05 Å apart (< 0.1 Å)
    """
    import vesin

    file = None if file is None else str(file)
    unknown = set(require) - set(TARGETS)
    if unknown:
        raise ValueError(f"require: unknown targets {sorted(unknown)}; use {TARGETS}")
    # vesin's cell list gets slow when its cells are tiny (0.1 Å cells in a 20 Å box:
    # 5 s for 214 mlearn structures), so search a larger radius and filter
    neighbours = (
        vesin.NeighborList(cutoff=max(float(min_distance), _SEARCH), full_list=False)
        if min_distance > 0
        else None
    )
    for entry, atoms in enumerate(atoms_list):

        def err(message, field, entry=entry):
            return InputError(message, file=file, entry=entry, field=field)

        if not isinstance(atoms, Atoms):
            raise err(f"not an ase.Atoms but {type(atoms).__name__}", None)
        if len(atoms) == 0:
            raise err("structure has no atoms", "positions")
        if (atoms.numbers <= 0).any():
            k = int(np.argmin(atoms.numbers))
            raise err(f"atom {k} has no known element", "numbers")
        pos = atoms.positions
        if not np.isfinite(pos).all():
            k = int(np.argwhere(~np.isfinite(pos))[0, 0])
            raise err(f"NaN or Inf in the position of atom {k}", "positions")
        _check_cell(atoms, min_distance, err)
        _check_targets(atoms, require, err)
        if neighbours is None or (len(atoms) < 2 and not atoms.pbc.any()):
            continue
        box = np.asarray(atoms.cell[:], dtype=float) * atoms.pbc[:, None]
        i, j, shift, d = neighbours.compute(
            pos, box, [bool(p) for p in atoms.pbc], "ijSd"
        )
        check_pair_distances(i, j, shift, d, err, min_distance)
    return atoms_list
