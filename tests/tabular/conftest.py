"""Small tables for the tabular tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def elastic_csv(shared_dir, tmp_path_factory):
    """60 rows of mp_elastic.csv (bulk modulus target)."""
    src = shared_dir / "data" / "tables" / "mp_elastic.csv"
    if not src.exists():
        pytest.skip(f"mp_elastic.csv not found at {src}")
    path = tmp_path_factory.mktemp("tables") / "elastic60.csv"
    pd.read_csv(src).iloc[:60].to_csv(path, index=False)
    return path


@pytest.fixture
def bad_csv(tmp_path):
    """A table with one bad formula, one text target, one missing target, text in a column."""
    path = tmp_path / "bad.csv"
    path.write_text(
        "formula,volume,y\n"
        "NaCl,45.0,1.0\n"
        "Qq3,20.0,2.0\n"
        "Fe2O3,oops,3.0\n"
        "MgO,19.0,abc\n"
        "Al2O3,40.0,\n"
        "SiO2,38.0,4.0\n"
        "LiF,16.0,5.0\n"
        "KCl,62.0,6.0\n"
    )
    return path
