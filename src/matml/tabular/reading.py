"""Reading materials tables: CSV/JSON with pandas, formulas parsed with pymatgen.

Rows that cannot be used (a formula pymatgen cannot parse, a missing or non-numeric
target) are dropped *explicitly*: each drop is recorded with its row and reason in a
:class:`DropReport`, which the commands print and write into their reports.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from matml.errors import InputError

__all__ = [
    "DropReport",
    "Table",
    "read_table",
    "parse_formula",
    "find_formula_column",
    "load_table",
    "load_command_table",
    "naming_file",
]

_FORMULA_NAMES = ("formula", "composition", "pretty_formula", "reduced_formula")


@dataclass
class DropReport:
    """Rows dropped while preparing a table, each with its reason.

    >>> r = DropReport()
    >>> r.add(3, "formula", "cannot parse Xx2")
    >>> r.lines()
    ['row 3: formula: cannot parse Xx2']
    """

    rows: list[tuple[int | str, str, str]] = field(default_factory=list)

    def add(self, row: int | str, column: str, reason: str) -> None:
        self.rows.append((row, column, reason))

    def __len__(self) -> int:
        return len(self.rows)

    def lines(self, limit: int | None = None) -> list[str]:
        rows = self.rows if limit is None else self.rows[:limit]
        out = [f"row {r}: {c}: {why}" for r, c, why in rows]
        if limit is not None and len(self.rows) > limit:
            out.append(f"... and {len(self.rows) - limit} more")
        return out


@dataclass
class Table:
    """A cleaned table: the frame (dropped rows removed), its source and drops."""

    frame: pd.DataFrame
    source: str
    formula_column: str | None
    target: str | None
    drops: DropReport
    numeric_columns: list[str] = field(default_factory=list)

    def missing_values(self) -> dict[str, int]:
        """Missing (NaN) values per numeric column; the pipelines impute the median."""
        counts = self.frame[self.numeric_columns].isna().sum()
        return {c: int(n) for c, n in counts.items() if n}

    def notes(self) -> list[str]:
        """One line per dropped row and per numeric column with imputed values."""
        lines = [f"dropped {x}" for x in self.drops.lines(limit=50)]
        lines += [
            f"column {c}: {n} missing value(s) imputed by the training rows' median"
            for c, n in self.missing_values().items()
        ]
        return lines


@contextlib.contextmanager
def naming_file(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise an :class:`InputError` that names no file as one that names ``path``.

    A command wraps its work in this, so that every error it raises (a bad option
    checked against the data, too few rows, a constant target) says which file.

    >>> with naming_file("t.csv"):
    ...     raise InputError("target is constant", field="y")
    Traceback (most recent call last):
    matml.errors.InputError: t.csv: field y: target is constant
    """
    try:
        yield
    except InputError as err:
        if err.file is not None:
            raise
        raise InputError(
            err.message, file=str(path), entry=err.entry, field=err.field
        ) from None


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or JSON (optionally ``.gz``) table into a DataFrame.

    JSON may be a list of records (as pymatgen's ``exp_compounds.json.gz``) or any
    layout ``pandas.read_json`` understands (columns, split, ...).

    Raises:
        InputError: the file is missing, empty or not a table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".json"):
            frame = _read_json(path)
        else:
            frame = pd.read_csv(path, sep=None if name.endswith(".txt") else ",")
    except InputError:
        raise
    except Exception as err:  # pandas raises many kinds; report one line
        raise InputError(
            f"cannot read as a table ({type(err).__name__}: {err})", file=str(path)
        ) from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError("table has no rows or no columns", file=str(path))
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_json(path: Path) -> pd.DataFrame:
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt") as fh:
        data = json.load(fh)
    if isinstance(data, list):
        return pd.DataFrame.from_records(data)
    if isinstance(data, dict) and {"columns", "data"} <= set(data):
        return pd.DataFrame(
            data["data"], columns=data["columns"], index=data.get("index")
        )
    if isinstance(data, dict):
        return pd.DataFrame(data)
    raise InputError("JSON is not a table (list of records or columns)", file=str(path))


@functools.lru_cache(maxsize=65536)
def parse_formula(formula: str):
    """Parse a chemical formula with pymatgen; cached per string.

    Returns:
        ``pymatgen.core.Composition``.

    Raises:
        ValueError: pymatgen cannot parse it, or it holds no atoms.

    >>> parse_formula("Fe2O3").reduced_formula
    'Fe2O3'
    """
    from pymatgen.core import Composition

    text = str(formula).strip()
    if not text:
        raise ValueError("empty formula")
    try:
        comp = Composition(text)
    except Exception as err:
        raise ValueError(f"cannot parse {text!r} ({err})") from None
    if comp.num_atoms <= 0 or not np.isfinite(comp.num_atoms):
        raise ValueError(f"formula {text!r} holds no atoms")
    for el in comp:
        if not 0 < getattr(el, "Z", 0) <= 118 or type(el).__name__ != "Element":
            raise ValueError(f"cannot parse {text!r} ({el} is not an element)")
    return comp


def find_formula_column(frame: pd.DataFrame) -> str | None:
    """The first column named like a formula column, or ``None``."""
    lower = {c.lower(): c for c in frame.columns}
    for name in _FORMULA_NAMES:
        if name in lower:
            return lower[name]
    return None


def load_table(
    path: str | os.PathLike,
    *,
    target: str | None = None,
    formula_column: str | None = "auto",
    numeric_columns: list[str] | str | None = None,
    exclude: tuple[str, ...] | list[str] = (),
) -> Table:
    """Read a table and clean it for learning; drops are explicit.

    * the target column must exist; values that are missing or not numbers drop
      their row (unless the target is text, which is kept as class labels);
    * formulas that pymatgen cannot parse drop their row;
    * ``numeric_columns`` must exist; text in them drops the row (NaN is kept for
      the imputer of the pipeline). ``"auto"``: every column other than the target,
      the formula and ``exclude`` whose values are at least 80% numbers (booleans
      and identifiers excluded); the chosen list is in ``Table.numeric_columns``.

    Raises:
        InputError: a named column is missing, or no rows remain.
    """
    src = str(path)
    frame = read_table(path)
    drops = DropReport()
    if target is not None and target not in frame.columns:
        raise InputError(
            f"no such column (columns are: {', '.join(map(str, frame.columns))})",
            file=src,
            field=target,
        )
    if formula_column == "auto":
        formula_column = find_formula_column(frame)
    elif formula_column is not None and formula_column not in frame.columns:
        raise InputError("no such formula column", file=src, field=formula_column)
    for col in exclude:
        if col not in frame.columns:
            raise InputError("no such column to exclude", file=src, field=col)
    if numeric_columns == "auto":
        numeric_columns = [
            c
            for c in frame.columns
            if c not in (target, formula_column, *exclude) and _mostly_numeric(frame[c])
        ]
    keep = np.ones(len(frame), dtype=bool)
    if formula_column is not None:
        for i, value in enumerate(frame[formula_column].tolist()):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                drops.add(i, formula_column, "missing formula")
                keep[i] = False
                continue
            try:
                parse_formula(str(value))
            except ValueError as err:
                drops.add(i, formula_column, str(err))
                keep[i] = False
    for col in numeric_columns or []:
        if col not in frame.columns:
            raise InputError("no such column", file=src, field=col)
        values = pd.to_numeric(frame[col], errors="coerce")
        text = values.isna() & frame[col].notna()
        for i in np.flatnonzero(text.to_numpy() & keep):
            drops.add(i, col, f"not a number: {frame[col].iloc[i]!r}")
        keep &= ~text.to_numpy()
        frame[col] = values
    if target is not None:
        raw = frame[target]
        values = pd.to_numeric(raw, errors="coerce")
        n_text = int((values.isna() & raw.notna()).sum())
        if n_text and n_text > 0.5 * raw.notna().sum():
            # mostly text: a categorical target, kept as labels
            missing = raw.isna().to_numpy()
        else:
            text = (values.isna() & raw.notna()).to_numpy()
            for i in np.flatnonzero(text & keep):
                drops.add(i, target, f"not a number: {raw.iloc[i]!r}")
            missing = values.isna().to_numpy()
            frame[target] = values
        for i in np.flatnonzero(
            missing & ~(values.isna() & raw.notna()).to_numpy() & keep
        ):
            drops.add(i, target, "missing target")
        keep &= ~missing
    frame = frame.loc[keep].reset_index(drop=True)
    if len(frame) == 0:
        raise InputError("no usable rows left after dropping bad ones", file=src)
    return Table(frame, src, formula_column, target, drops, list(numeric_columns or []))


def _mostly_numeric(column: pd.Series) -> bool:
    if column.dtype == bool or str(column.dtype) == "boolean":
        return False
    values = column.dropna()
    if len(values) == 0:
        return False
    as_num = pd.to_numeric(values, errors="coerce")
    if as_num.notna().mean() < 0.8:
        return False
    text = values.astype(str).str.lower()
    if text.isin(["true", "false"]).all():
        return False
    return True


def load_command_table(
    path: str | os.PathLike,
    *,
    target: str | None = None,
    formula_column: str | None = "auto",
    exclude: tuple[str, ...] | list[str] = (),
    numeric: list[str] | None = None,
) -> Table:
    """:func:`load_table` as the table commands use it: every numeric column (but the
    target and ``exclude``) is a candidate feature, unless ``numeric`` names them."""
    return load_table(
        path,
        target=target,
        formula_column=formula_column,
        numeric_columns="auto" if numeric is None else numeric,
        exclude=exclude,
    )
