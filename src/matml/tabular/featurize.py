"""Composition features as scikit-learn transformers.

Both featurizers take either formulas (strings, 1-D or one column, parsed with
pymatgen) or a numeric *element-amount matrix*: column ``j`` holds the amount of the
element with atomic number ``j + 1`` (so a matrix of 118 columns covers every
element). The numeric form is what ``parametrize_with_checks`` exercises.

* :class:`ElementFractions`: the course's one-hot composition vector, amounts
  normalised to atomic fractions.
* :class:`MagpieFeatures`: matminer's ``ElementProperty.from_preset("magpie")``
  (22 element properties x 6 statistics), computed from a per-element property table
  read once from matminer, vectorised over rows, so thousands of formulas take a
  second rather than a minute. Values equal matminer's own ``featurize``.
* :class:`~matml.tabular.stoichiometry.StoichiometryFeatures`: Ward et al.'s
  stoichiometry, valence and ionic attributes.
* :func:`composition_features`: a ``ColumnTransformer`` joining them with the
  table's numeric columns; :func:`table_features` does so for a loaded table.
* :func:`preprocessing`: features -> drop constant columns -> standardise, the chain
  in front of every model and reducer; :func:`feature_matrix` applies it to a table.

The shared input handling and the Magpie element table live in
:mod:`matml.tabular._composition`.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from matml.errors import InputError
from matml.tabular._composition import (
    ELEMENT_SYMBOLS,
    N_ELEMENTS,
    _CompositionTransformer,
    _magpie_table,
    formulas_to_amounts,
)
from matml.tabular.stoichiometry import StoichiometryFeatures

__all__ = [
    "N_ELEMENTS",
    "ELEMENT_SYMBOLS",
    "formulas_to_amounts",
    "ElementFractions",
    "MagpieFeatures",
    "DEFAULT_FEATURES",
    "composition_features",
    "table_features",
    "preprocessing",
    "feature_matrix",
]

DEFAULT_FEATURES = ("magpie", "stoich", "fractions")


class ElementFractions(_CompositionTransformer):
    """Atomic fraction of each element: the one-hot composition vector.

    Args:
        normalize: divide each row by its number of atoms (fractions); if False,
            keep amounts per formula unit (element counts).

    >>> ElementFractions().fit_transform(["Fe2O3"])[0, [7, 25]]
    array([0.6, 0.4])
    """

    def __init__(self, normalize: bool = True):
        self.normalize = normalize

    def transform(self, X):
        """Fractions (or counts) per element, one column per element."""
        check_is_fitted(self, "input_kind_")
        A = self._amounts(X, reset=False)
        if not self.normalize:
            return A
        total = A.sum(axis=1, keepdims=True)
        return np.divide(A, total, out=np.zeros_like(A), where=total > 0)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "input_kind_")
        return np.asarray(
            [f"frac_{s}" for s in ELEMENT_SYMBOLS[: self._n_elements()]], dtype=object
        )


class MagpieFeatures(_CompositionTransformer):
    """Magpie element-property statistics (matminer's ``magpie`` preset), vectorised.

    For each of the 22 Magpie properties: minimum, maximum, range, fraction-weighted
    mean, mean absolute deviation and mode (value of the most abundant element,
    smallest on ties), in matminer's order and with matminer's labels. NaN entries of
    the Magpie tables are imputed as matminer does by default.

    >>> m = MagpieFeatures().fit(["NaCl"])
    >>> float(m.transform(["NaCl"])[0, 3])  # mean atomic number of Na and Cl
    14.0
    """

    def transform(self, X):
        """Magpie features, ``[n, 132]``."""
        check_is_fitted(self, "input_kind_")
        A = self._amounts(X, reset=False)
        table, props, stats = _magpie_table()
        table = table[: A.shape[1]]
        n = A.shape[0]
        out = np.zeros((n, len(props), len(stats)))
        present = A > 0
        width = max(1, int(present.sum(axis=1).max(initial=0)))
        # padded (row, slot) -> element index and weight
        order = np.argsort(~present, axis=1, kind="stable")[:, :width]
        w = np.take_along_axis(A, order, axis=1)
        mask = w > 0
        vals = table[order]  # n, width, P
        total = w.sum(axis=1, keepdims=True)
        frac = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
        big = np.where(mask[..., None], vals, np.inf)
        small = np.where(mask[..., None], vals, -np.inf)
        has = mask.any(axis=1)
        vmin = np.where(has[:, None], big.min(axis=1), 0.0)
        vmax = np.where(has[:, None], small.max(axis=1), 0.0)
        mean = np.einsum("nw,nwp->np", frac, vals)
        dev = np.einsum("nw,nwp->np", frac, np.abs(vals - mean[:, None, :]))
        wmax = w.max(axis=1, keepdims=True)
        top = mask & np.isclose(w, wmax)
        mode = np.where(top[..., None], vals, np.inf).min(axis=1)
        mode = np.where(has[:, None], mode, 0.0)
        by_name = {
            "minimum": vmin,
            "maximum": vmax,
            "range": vmax - vmin,
            "mean": mean,
            "avg_dev": dev,
            "mode": mode,
        }
        for j, s in enumerate(stats):
            out[:, :, j] = by_name[s]
        return out.reshape(n, -1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "input_kind_")
        _, props, stats = _magpie_table()
        return np.asarray(
            [f"MagpieData {s} {p}" for p in props for s in stats], dtype=object
        )


def composition_features(
    formula_column: str | None = "formula",
    numeric_columns: list[str] | tuple[str, ...] = (),
    kinds: tuple[str, ...] = DEFAULT_FEATURES,
):
    """A ``ColumnTransformer`` of composition features plus numeric columns.

    Args:
        formula_column: the column of formulas (``None``: numeric columns only).
        numeric_columns: columns passed through as they are (NaN imputed by median).
        kinds: any of ``"magpie"`` (132 Magpie statistics), ``"stoich"`` (12
            stoichiometry, valence-orbital and ionic-character attributes),
            ``"fractions"`` (118 atomic fractions), ``"counts"`` (118 amounts).

    >>> ct = composition_features("formula", ["volume"], kinds=("fractions",))
    >>> import pandas as pd
    >>> ct.fit_transform(pd.DataFrame({"formula": ["NaCl"], "volume": [40.0]})).shape
    (1, 119)
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer

    makers = {
        "magpie": MagpieFeatures,
        "stoich": StoichiometryFeatures,
        "fractions": ElementFractions,
        "counts": lambda: ElementFractions(normalize=False),
    }
    parts = []
    if formula_column is not None:
        for kind in kinds:
            if kind not in makers:
                raise InputError(
                    f"unknown feature kind {kind!r} (use {', '.join(sorted(makers))})",
                    field="features",
                )
            parts.append((kind, makers[kind](), [formula_column]))
    if numeric_columns:
        parts.append(
            ("numeric", SimpleImputer(strategy="median"), list(numeric_columns))
        )
    if not parts:
        raise InputError("no features: give a formula column or numeric columns")
    return ColumnTransformer(parts, verbose_feature_names_out=False)


def table_features(table, kinds: tuple[str, ...] = DEFAULT_FEATURES):
    """:func:`composition_features` of a loaded table's formula and numeric columns.

    Raises:
        InputError: naming the table when it has neither.
    """
    if table.formula_column is None and not table.numeric_columns:
        raise InputError(
            "no features: no formula column and no numeric columns", file=table.source
        )
    return composition_features(
        table.formula_column, table.numeric_columns, tuple(kinds)
    )


def preprocessing(features, *, scale: bool = True) -> list[tuple[str, object]]:
    """``Pipeline`` steps: features -> drop constant columns -> standardise.

    ``features`` (a transformer of the raw table) is cloned; ``scale=False`` leaves
    out the scaler (trees need none, and their pictures read better unscaled).
    """
    from sklearn.base import clone
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.preprocessing import StandardScaler

    steps = [("features", clone(features)), ("nonconstant", VarianceThreshold(0.0))]
    if scale:
        steps.append(("scale", StandardScaler()))
    return steps


def feature_matrix(
    table, kinds: tuple[str, ...] = DEFAULT_FEATURES, *, scale: bool = True
) -> tuple[np.ndarray, list[str]]:
    """The (standardised) non-constant feature matrix of a loaded table, and names."""
    from sklearn.pipeline import Pipeline

    pre = Pipeline(preprocessing(table_features(table, kinds), scale=scale))
    X = pre.fit_transform(table.frame)
    return X, list(pre.get_feature_names_out())
