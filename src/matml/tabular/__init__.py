"""The table pipeline: read, explore, featurize, fit, reduce, cluster, EOS, report."""

from matml.tabular.featurize import (
    ELEMENT_SYMBOLS,
    N_ELEMENTS,
    ElementFractions,
    MagpieFeatures,
    composition_features,
    formulas_to_amounts,
)
from matml.tabular.models import ZeroInflatedRegressor
from matml.tabular.reading import (
    DropReport,
    Table,
    find_formula_column,
    load_table,
    parse_formula,
    read_table,
)
from matml.tabular.stoichiometry import StoichiometryFeatures

__all__ = [
    "ELEMENT_SYMBOLS",
    "N_ELEMENTS",
    "DropReport",
    "ElementFractions",
    "MagpieFeatures",
    "Table",
    "composition_features",
    "find_formula_column",
    "formulas_to_amounts",
    "load_table",
    "parse_formula",
    "read_table",
    "StoichiometryFeatures",
    "ZeroInflatedRegressor",
]
