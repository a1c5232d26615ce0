"""One entry point for reading structures: mlearn JSON, extended XYZ, any ase.io format."""

from __future__ import annotations

import os
from pathlib import Path

from ase import Atoms

from matml import keys
from matml.errors import InputError
from matml.io.extxyz import read_extxyz
from matml.io.mlearn import read_mlearn

__all__ = ["read", "detect_format"]

_EXTXYZ_SUFFIXES = {".xyz", ".extxyz"}


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a structure file: ``"mlearn"``, ``"extxyz"`` or ase's guess.

    Raises:
        InputError: naming the file, when neither its name nor its content tells.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        return "mlearn"
    if suffix in _EXTXYZ_SUFFIXES:
        return "extxyz"
    from ase.io.formats import UnknownFileTypeError, filetype, ioformats

    try:
        fmt = filetype(str(p), read=p.exists())
    except (UnknownFileTypeError, OSError, ValueError) as err:
        raise InputError(
            f"cannot tell the file format ({err}); name it with format=/--format",
            file=str(p),
        ) from None
    if fmt not in ioformats:  # ase falls back on the suffix, known or not
        raise InputError(
            f"cannot tell the file format (no format is called {fmt!r}); name it "
            "with format=/--format",
            file=str(p),
        )
    return fmt


def _check_format(fmt: str, path: str) -> None:
    from ase.io.formats import ioformats

    if fmt != "mlearn" and fmt not in ioformats:
        raise InputError(
            f"unknown format {fmt!r}; use mlearn, extxyz or an ase.io format",
            file=path,
            field="format",
        )


def read(
    path: str | os.PathLike,
    format: str | None = None,
    index: str | int = ":",
    *,
    energy_key: str | None = keys.EXTXYZ_ENERGY,
    forces_key: str | None = keys.EXTXYZ_FORCES,
    stress_key: str | None = keys.EXTXYZ_STRESS,
) -> list[Atoms]:
    """Read structures with reference values from any supported file.

    Args:
        path: the file.
        format: ``"mlearn"`` (mlearn JSON), ``"extxyz"``, or any :mod:`ase.io` format
            name; ``None`` guesses it from the name (``.json`` -> mlearn, ``.xyz`` /
            ``.extxyz`` -> extxyz, otherwise ASE's guess).
        index: which frames (``":"`` all); applied after reading for mlearn files.
        energy_key, forces_key, stress_key: where the reference values are stored,
            for formats read through ASE (see :func:`matml.io.read_extxyz`). For files
            whose ASE reader attaches a calculator (VASP OUTCAR, ...), pass
            ``"energy"``, ``"forces"``, ``"stress"`` to take its values.

    Returns:
        A list of :class:`ase.Atoms` following :mod:`matml.keys`.

    Raises:
        InputError: missing, corrupt or truncated file, naming file, entry and field.
    """
    if not Path(path).exists():
        raise InputError("file not found", file=str(path))
    if Path(path).is_dir() and format is None:
        # ase would guess a bundletrajectory and call the folder a corrupt one
        raise InputError("is a folder, not a structure file", file=str(path))
    fmt = format or detect_format(path)
    _check_format(fmt, str(path))
    if fmt == "mlearn":
        atoms = read_mlearn(path)
        if index == ":":
            return atoms
        sel = atoms[_parse_index(index)]
        return sel if isinstance(sel, list) else [sel]
    return read_extxyz(
        path,
        index,
        energy_key=energy_key,
        forces_key=forces_key,
        stress_key=stress_key,
        format=fmt,
    )


def _parse_index(index: str | int) -> int | slice:
    if isinstance(index, int):
        return index
    from ase.io.formats import string2index

    return string2index(index)
