"""Errors raised by matml on bad input.

Every error names *where* the problem is (file, entry, field) so that a person can
find it without a traceback. The CLI prints ``str(error)`` on one line and exits 2.
"""

from __future__ import annotations

__all__ = ["MatmlError", "InputError", "ConfigError", "TrainingError"]


class MatmlError(ValueError):
    """Base class of matml's own errors: one line, naming what and where.

    Args:
        message: what is wrong.
        file: the file (or data set) that holds the bad value.
        entry: the entry inside it (structure index, row, config section).
        field: the field of that entry (``forces``, ``energy``, a column name).

    >>> str(InputError("is NaN", file="train.xyz", entry=3, field="energy"))
    'train.xyz: entry 3: field energy: is NaN'
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        entry: int | str | None = None,
        field: str | None = None,
    ):
        self.message = message
        self.file = None if file is None else str(file)
        self.entry = entry
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.entry is not None:
            parts.append(f"entry {self.entry}")
        if self.field is not None:
            parts.append(f"field {self.field}")
        parts.append(self.message)
        return ": ".join(parts).replace("\n", " ")


class InputError(MatmlError):
    """Bad data: missing fields, NaN, unknown elements, overlapping atoms, ..."""


class ConfigError(MatmlError):
    """Bad configuration: unknown keys, wrong types, impossible values."""


class TrainingError(MatmlError):
    """Training failed in a way the user can fix (a diverging loss, say)."""
