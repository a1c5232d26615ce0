"""Reading tables: explicit drops, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from matml.errors import InputError
from matml.tabular import load_table, read_table


def test_drops_are_reported(bad_csv):
    table = load_table(bad_csv, target="y", numeric_columns=["volume"])
    assert table.formula_column == "formula"
    assert list(table.frame["formula"]) == ["NaCl", "SiO2", "LiF", "KCl"]
    lines = table.drops.lines()
    assert lines[0].startswith("row 1: formula: cannot parse 'Qq3'")
    assert "row 2: volume: not a number: 'oops'" in lines
    assert "row 3: y: not a number: 'abc'" in lines
    assert "row 4: y: missing target" in lines
    assert len(table.drops) == 4
    assert table.frame["y"].dtype == np.float64


def test_auto_numeric_columns(elastic_csv):
    table = load_table(
        elastic_csv, target="K_VRH_GPa", numeric_columns="auto", exclude=["G_VRH_GPa"]
    )
    assert "volume" in table.numeric_columns and "nsites" in table.numeric_columns
    assert "G_VRH_GPa" not in table.numeric_columns
    assert "suspect_value" not in table.numeric_columns  # booleans are not features
    assert "material_id" not in table.numeric_columns and len(table.drops) == 0


def test_missing_target_column(bad_csv):
    with pytest.raises(InputError, match=r"bad.csv: field nope: no such column"):
        load_table(bad_csv, target="nope")


def test_missing_file_and_json(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps([{"formula": "NaCl", "e": 1.0}, {"formula": "KCl", "e": 2.0}])
    )
    assert read_table(path).shape == (2, 2)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot read as a table"):
        read_table(tmp_path / "bad.json")


def test_no_rows_left(tmp_path):
    path = tmp_path / "all_bad.csv"
    path.write_text("formula,y\nQq,1\nZz2,2\n")
    with pytest.raises(InputError, match="no usable rows"):
        load_table(path, target="y")


def test_nan_in_numeric_column_is_reported(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("formula,volume,y\nNaCl,45.0,1\nKCl,,2\nLiF,16.0,3\n")
    table = load_table(path, target="y", numeric_columns="auto")
    assert len(table.frame) == 3 and table.missing_values() == {"volume": 1}
    assert table.notes() == [
        "column volume: 1 missing value(s) imputed by the training rows' median"
    ]
