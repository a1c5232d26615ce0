"""Composition featurizers: scikit-learn conformance, hand-checked values, matminer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from matml.tabular import (
    ElementFractions,
    MagpieFeatures,
    StoichiometryFeatures,
    composition_features,
)


@parametrize_with_checks(
    [
        ElementFractions(),
        ElementFractions(normalize=False),
        MagpieFeatures(),
        StoichiometryFeatures(),
    ]
)
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_fractions_by_hand():
    X = ElementFractions().fit_transform(["Fe2O3", "NaCl", "LiFePO4"])
    assert X.shape == (3, 118)
    np.testing.assert_allclose(X[0, [25, 7]], [0.4, 0.6])  # Fe (Z=26), O (Z=8)
    np.testing.assert_allclose(X[1, [10, 16]], [0.5, 0.5])  # Na, Cl
    np.testing.assert_allclose(X[2, [2, 25, 14, 7]], [1 / 7, 1 / 7, 1 / 7, 4 / 7])
    np.testing.assert_allclose(X.sum(axis=1), 1.0)
    counts = ElementFractions(normalize=False).fit_transform(["LiFePO4"])
    assert counts[0, 7] == 4.0 and counts.sum() == 7.0


def _col(m, name):
    return list(m.get_feature_names_out()).index(name)


def test_magpie_by_hand():
    m = MagpieFeatures().fit(["NaCl"])
    X = m.transform(["NaCl", "Fe2O3", "Cu"])
    # atomic numbers Na 11, Cl 17; Fe 26, O 8 (fractions 0.4, 0.6)
    assert X[0, _col(m, "MagpieData mean Number")] == pytest.approx(14.0)
    assert X[0, _col(m, "MagpieData range Number")] == pytest.approx(6.0)
    assert X[0, _col(m, "MagpieData avg_dev Number")] == pytest.approx(3.0)
    assert X[0, _col(m, "MagpieData mode Number")] == pytest.approx(11.0)  # tie: min
    assert X[1, _col(m, "MagpieData mean Number")] == pytest.approx(0.4 * 26 + 0.6 * 8)
    assert X[1, _col(m, "MagpieData avg_dev Number")] == pytest.approx(
        2 * 0.4 * 0.6 * 18
    )
    assert X[1, _col(m, "MagpieData mode Number")] == pytest.approx(8.0)  # O most
    assert X[1, _col(m, "MagpieData minimum Number")] == pytest.approx(8.0)
    assert X[1, _col(m, "MagpieData maximum Number")] == pytest.approx(26.0)
    # a pure element: no spread; Cu's column is 11 and it has 10 d electrons
    assert X[2, _col(m, "MagpieData range Number")] == 0.0
    assert X[2, _col(m, "MagpieData mean Column")] == pytest.approx(11.0)
    assert X[2, _col(m, "MagpieData mean NdValence")] == pytest.approx(10.0)


def test_magpie_equals_matminer():
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    ep = ElementProperty.from_preset("magpie")
    formulas = ["Ag(W3Br7)2", "Fe0.62C0.00095Mn0.0005Si0.001", "LiFePO4", "UO2", "H2O"]
    ours = MagpieFeatures().fit_transform(formulas)
    ref = np.array([ep.featurize(Composition(f)) for f in formulas])
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-9)
    assert (
        list(MagpieFeatures().fit(formulas).get_feature_names_out())
        == ep.feature_labels()
    )


def test_amount_matrix_equals_formulas():
    from matml.tabular import formulas_to_amounts

    formulas = ["NaCl", "Fe2O3"]
    a = MagpieFeatures().fit_transform(formulas)
    b = MagpieFeatures().fit_transform(formulas_to_amounts(formulas))
    np.testing.assert_allclose(a, b)


def test_bad_formula_is_a_clear_error():
    with pytest.raises(ValueError, match="row 1: cannot parse"):
        ElementFractions().fit_transform(["NaCl", "Qq3"])


def test_composition_features_with_numeric_columns():
    frame = pd.DataFrame({"formula": ["NaCl", "Fe2O3"], "volume": [45.0, np.nan]})
    ct = composition_features("formula", ["volume"])
    X = ct.fit_transform(frame)
    assert X.shape == (2, 132 + 12 + 118 + 1)
    assert X[1, -1] == 45.0  # median-imputed
    names = list(ct.get_feature_names_out())
    assert names[0] == "MagpieData minimum Number" and names[-1] == "volume"


def test_stoichiometry_by_hand():
    s = StoichiometryFeatures().fit(["Fe2O3"])
    row = dict(zip(s.get_feature_names_out(), s.transform(["Fe2O3"])[0], strict=True))
    assert row["n_elements"] == 2
    assert row["norm_2"] == pytest.approx(np.sqrt(0.4**2 + 0.6**2))
    assert row["norm_10"] == pytest.approx((0.4**10 + 0.6**10) ** 0.1)
    # valence electrons: Fe 4s2 3d6, O 2s2 2p4 -> 6.8 per atom on average
    assert row["frac_s_valence"] == pytest.approx(2.0 / 6.8)
    assert row["frac_p_valence"] == pytest.approx(0.6 * 4 / 6.8)
    assert row["frac_d_valence"] == pytest.approx(0.4 * 6 / 6.8)
    # Pauling electronegativities Fe 1.83, O 3.44
    ionic = 1 - np.exp(-0.25 * (3.44 - 1.83) ** 2)
    assert row["max_ionic_character"] == pytest.approx(ionic)
    assert row["mean_ionic_character"] == pytest.approx(2 * 0.4 * 0.6 * ionic)
    cu = s.transform(["Cu"])[0]
    assert cu[0] == 1 and cu[-1] == 0.0 and cu[-2] == 0.0


def _tabular_imports() -> dict[str, set[str]]:
    """Module -> the tabular modules it imports (at any depth of its code)."""
    import ast
    from pathlib import Path

    import matml.tabular

    graph = {}
    for path in Path(matml.tabular.__file__).parent.glob("*.py"):
        if path.stem == "__init__":
            continue
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("matml.tabular."):
                    found.add(name.split(".")[2])
        graph[path.stem] = found
    return graph


def test_no_import_cycles_in_tabular():
    """featurize uses stoichiometry, which must not reach back (nor any other loop)."""
    graph = _tabular_imports()
    assert "stoichiometry" in graph["featurize"]

    def reach(start):
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += graph.get(m, ())
        return seen

    cycles = sorted(m for m in graph if m in reach(m))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_one_preprocessing_chain_for_models_and_reducers():
    from sklearn.pipeline import Pipeline

    from matml.tabular.featurize import feature_matrix, preprocessing
    from matml.tabular.models import make_pipeline
    from matml.tabular.reading import Table

    frame = pd.DataFrame({"formula": ["NaCl", "KCl", "MgO", "Fe2O3"], "v": [1.0] * 4})
    table = Table(frame, "t.csv", "formula", None, None, ["v"])
    ct = composition_features("formula", ["v"], ("fractions",))
    steps = [name for name, _ in make_pipeline("linear", ct).steps]
    assert steps == ["features", "nonconstant", "scale", "model"]
    X, names = feature_matrix(table, ("fractions",))
    # the constant column v and the absent elements are dropped, the rest standardised
    assert names == ["frac_O", "frac_Na", "frac_Mg", "frac_Cl", "frac_K", "frac_Fe"]
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1.0)
    unscaled = Pipeline(preprocessing(ct, scale=False)).fit_transform(frame)
    assert unscaled.shape == X.shape and unscaled.min() >= 0.0
