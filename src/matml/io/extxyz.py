"""Extended XYZ with explicit, overridable names for the reference values.

ASE's reader moves the plain keys ``energy``, ``forces``, ``stress`` (and other
calculator properties) into a ``SinglePointCalculator``, where later code can overwrite
them. A training set is therefore read through explicit key names, by default
``REF_energy``, ``REF_forces`` and ``REF_stress`` (as MACE does). If a key name given is
one of ASE's calculator properties (``energy``, ``forces``, ``stress``, ``free_energy``),
the value is taken from the calculator ASE attached. Either way the result follows
:mod:`matml.keys`: ``info["energy"]``, ``arrays["forces"]``, ``info["stress"]`` (Voigt
6-vector, eV/Å^3, ASE sign), and no calculator is left attached.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable

import ase.io
import numpy as np
from ase import Atoms

from matml import keys
from matml._files import atomic_path
from matml.errors import InputError

__all__ = ["read_extxyz", "write_extxyz", "to_voigt"]


def to_voigt(stress, *, file=None, entry=None, field=keys.STRESS) -> np.ndarray:
    """Return a stress as a Voigt 6-vector (xx yy zz yz xz xy) from 6 or 3x3 values."""
    try:
        s = np.asarray(stress, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"stress is not numeric: {stress!r}", file=file, entry=entry, field=field
        ) from None
    if s.shape == (6,):
        return s.copy()
    if s.size == 9:
        s = s.reshape(3, 3)
        return np.array([s[i, j] for i, j in keys.VOIGT_ORDER])
    raise InputError(
        f"stress has {s.size} values, expected 6 (Voigt) or 9 (3x3)",
        file=file,
        entry=entry,
        field=field,
    )


def _calc_results(atoms: Atoms) -> dict:
    calc = atoms.calc
    return dict(getattr(calc, "results", {}) or {}) if calc is not None else {}


def _take(atoms: Atoms, key: str, per_atom: bool, results: dict):
    """The value stored under ``key``: explicit info/arrays first, then the calculator."""
    store = atoms.arrays if per_atom else atoms.info
    if key in store:
        return store.pop(key)
    if key in results:
        return results[key]
    return None


def _convert(
    atoms: Atoms, file: str, entry: int, energy_key, forces_key, stress_key, unused
):
    results = _calc_results(atoms)
    energy = _take(atoms, energy_key, False, results) if energy_key else None
    forces = _take(atoms, forces_key, True, results) if forces_key else None
    stress = _take(atoms, stress_key, False, results) if stress_key else None
    for plain, key, value in (
        (keys.ENERGY, energy_key, energy),
        (keys.FORCES, forces_key, forces),
        (keys.STRESS, stress_key, stress),
    ):
        if value is None and key is not None and key != plain and plain in results:
            unused.add((plain, key))
    # other values ASE's reader moved into a calculator (dipole, charges, magmoms,
    # ...) stay readable as plain keys, for declared properties (matml.properties)
    for name, value in results.items():
        if name in ("energy", "free_energy", "forces", "stress"):
            continue
        v = np.asarray(value)
        if v.ndim >= 1 and v.shape[0] == len(atoms) and name not in ("dipole",):
            atoms.arrays.setdefault(name, v.reshape(len(v), -1) if v.ndim > 2 else v)
        else:
            atoms.info.setdefault(name, v)
    atoms.calc = None
    if energy is not None:
        try:
            atoms.info[keys.ENERGY] = float(np.asarray(energy).reshape(()))
        except (TypeError, ValueError):
            raise InputError(
                f"energy is not one number: {energy!r}",
                file=file,
                entry=entry,
                field=energy_key,
            ) from None
    if forces is not None:
        try:
            forces = np.asarray(forces, dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                f"forces are not numeric: {np.asarray(forces).ravel()[:3].tolist()} ...",
                file=file,
                entry=entry,
                field=forces_key,
            ) from None
        if forces.shape != (len(atoms), 3):
            raise InputError(
                f"forces have shape {forces.shape}, expected ({len(atoms)}, 3)",
                file=file,
                entry=entry,
                field=forces_key,
            )
        atoms.arrays[keys.FORCES] = forces
    if stress is not None:
        atoms.info[keys.STRESS] = to_voigt(
            stress, file=file, entry=entry, field=stress_key
        )
    return atoms


def _read_error(err: Exception, format: str, where: str, file: str, entry: int):
    """One line for what ASE raised while reading frame ``entry``."""
    if isinstance(err, IsADirectoryError):
        return InputError("is a folder, not a structure file", file=file)
    if isinstance(err, PermissionError):
        return InputError("cannot read the file (permission denied)", file=file)
    if isinstance(err, UnicodeDecodeError):
        return InputError(
            f"not a text file ({where}: {err.reason})", file=file, entry=entry
        )
    detail = str(err).strip().removeprefix(f"ase.io.{format}: ")
    return InputError(
        f"corrupt or truncated {format} file ({where}): {type(err).__name__}: {detail}",
        file=file,
        entry=entry,
    )


def read_extxyz(
    path: str | os.PathLike,
    index: str | int = ":",
    *,
    energy_key: str | None = keys.EXTXYZ_ENERGY,
    forces_key: str | None = keys.EXTXYZ_FORCES,
    stress_key: str | None = keys.EXTXYZ_STRESS,
    format: str = "extxyz",
) -> list[Atoms]:
    """Read an extended XYZ file, taking reference values from the named keys.

    Args:
        path: the file.
        index: which frames, as for :func:`ase.io.read` (``":"`` all, ``-1`` last, ...).
        energy_key: name of the per-frame energy (eV); ``None`` to ignore energies.
        forces_key: name of the per-atom forces column (eV/Å); ``None`` to ignore.
        stress_key: name of the per-frame stress (6 Voigt or 9 values, eV/Å^3, ASE
            sign); ``None`` to ignore.
        format: the ``ase.io`` format name (also used for other formats by
            :func:`matml.io.read`).

    Returns:
        A list of ``Atoms`` following :mod:`matml.keys`, with no calculator attached.

    Raises:
        InputError: missing, corrupt or truncated file (naming the frame that failed
            and the line it starts on, where known), or a value of the wrong shape.
    """
    file = str(path)
    if not os.path.exists(path):
        raise InputError("file not found", file=file)
    frames: list[Atoms] = []
    line = 1
    iterator = ase.io.iread(path, index=index, format=format)
    while True:
        try:
            atoms = next(iterator)
        except StopIteration:
            break
        except Exception as err:  # ASE raises many types on bad input
            lines_known = index == ":" and format in ("extxyz", "xyz")
            where = f"frame starting at line {line}" if lines_known else "a frame"
            raise _read_error(err, format, where, file, len(frames)) from None
        line += len(atoms) + 2
        frames.append(atoms)
    unused: set[tuple[str, str | None]] = set()
    out = [
        _convert(a, file, k, energy_key, forces_key, stress_key, unused)
        for k, a in enumerate(frames)
    ]
    if unused:
        names = {keys.ENERGY: "energy", keys.FORCES: "forces", keys.STRESS: "stress"}
        found = sorted(unused, key=str)
        warnings.warn(
            f"{file}: holds plain "
            + ", ".join(f"'{p}'" for p, _ in found)
            + " values (ASE reads them into a calculator) that were not used; pass "
            + ", ".join(f"{names[p]}_key={p!r}" for p, _ in found)
            + " to use them",
            stacklevel=2,
        )
    return out


def write_extxyz(
    path: str | os.PathLike,
    atoms_list: Atoms | Iterable[Atoms],
    *,
    energy_key: str = keys.EXTXYZ_ENERGY,
    forces_key: str = keys.EXTXYZ_FORCES,
    stress_key: str = keys.EXTXYZ_STRESS,
) -> None:
    """Write structures to extended XYZ, atomically, with the reference values renamed.

    ``info["energy"]``, ``arrays["forces"]`` and ``info["stress"]`` are written under
    the given key names (so :func:`read_extxyz` with the same names gives them back);
    other ``info``/``arrays`` entries are written as they are; calculators are not.

    >>> import tempfile, pathlib
    >>> from ase.build import bulk
    >>> a = bulk("Cu"); a.info["energy"] = -3.5
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.xyz"
    >>> write_extxyz(p, [a]); read_extxyz(p)[0].info["energy"]
    -3.5
    """
    if isinstance(atoms_list, Atoms):
        atoms_list = [atoms_list]
    out = []
    for atoms in atoms_list:
        a = atoms.copy()  # copy() drops the calculator
        energy = a.info.pop(keys.ENERGY, None)
        stress = a.info.pop(keys.STRESS, None)
        forces = a.arrays.pop(keys.FORCES, None)
        if energy is not None:
            a.info[energy_key] = float(energy)
        if stress is not None:
            a.info[stress_key] = to_voigt(stress)
        if forces is not None:
            a.arrays[forces_key] = np.asarray(forces, dtype=float)
        out.append(a)
    with atomic_path(path) as tmp:
        ase.io.write(tmp, out, format="extxyz")
