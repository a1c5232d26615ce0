"""The shared ground of the composition featurizers: elements, amounts, the Magpie table.

A featurizer takes formulas (strings, 1-D or one column, parsed with pymatgen) or a
numeric *element-amount matrix*: column ``j`` holds the amount of the element with
atomic number ``j + 1``. :class:`_CompositionTransformer` turns either into the amount
matrix; :func:`_magpie_table` is the per-element property table of
:mod:`matml.io.elements` (read once from matminer). :mod:`matml.tabular.featurize` and :mod:`matml.tabular.stoichiometry` build
on these.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import validate_data

from matml.io.elements import N_ELEMENTS, magpie_table
from matml.tabular.reading import parse_formula

__all__ = ["N_ELEMENTS", "ELEMENT_SYMBOLS", "formulas_to_amounts"]


@functools.cache
def _symbols() -> tuple[str, ...]:
    from pymatgen.core.periodic_table import Element

    return tuple(Element.from_Z(z).symbol for z in range(1, N_ELEMENTS + 1))


ELEMENT_SYMBOLS = _symbols()


def formulas_to_amounts(formulas) -> np.ndarray:
    """Element-amount matrix ``[n, 118]`` (atoms per formula unit) of formulas.

    >>> a = formulas_to_amounts(["NaCl", "Fe2O3"])
    >>> a.shape, a[0, [10, 16]].tolist(), a[1, [25, 7]].tolist()
    ((2, 118), [1.0, 1.0], [2.0, 3.0])
    """
    formulas = list(formulas)
    out = np.zeros((len(formulas), N_ELEMENTS))
    for i, text in enumerate(formulas):
        try:
            comp = parse_formula(str(text))
        except ValueError as err:
            raise ValueError(f"row {i}: {err}") from None
        for el, amount in comp.element_composition.items():
            out[i, el.Z - 1] += amount
    return out


def _is_text(X) -> bool:
    if hasattr(X, "dtypes"):  # DataFrame
        return any(
            str(dt) == "object" or str(dt).startswith(("str", "string"))
            for dt in X.dtypes
        )
    if hasattr(X, "dtype") and not isinstance(X, np.ndarray):  # Series
        return str(X.dtype) == "object" or str(X.dtype).startswith(("str", "string"))
    arr = np.asarray(X, dtype=object)
    return arr.size > 0 and isinstance(arr.flat[0], str)


def _text_column(X) -> list[str]:
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:
        if X.shape[1] != 1:
            raise ValueError("formula input must be a single column")
        return [str(v) for v in X.iloc[:, 0].tolist()]
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2:
        if arr.shape[1] != 1:
            raise ValueError("formula input must be a single column")
        arr = arr[:, 0]
    return [str(v) for v in arr.tolist()]


class _CompositionTransformer(TransformerMixin, BaseEstimator):
    """Shared input handling: formulas or a non-negative element-amount matrix."""

    def _amounts(self, X, *, reset: bool) -> np.ndarray:
        if _is_text(X):
            if reset:
                self.input_kind_ = "formula"
                self.n_features_in_ = 1
                if hasattr(X, "columns"):
                    self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            elif self.input_kind_ != "formula":
                raise ValueError("fitted on an amount matrix, given formulas")
            return formulas_to_amounts(_text_column(X))
        A = validate_data(self, X, reset=reset, dtype=np.float64)
        if reset:
            self.input_kind_ = "amounts"
        elif self.input_kind_ != "amounts":
            raise ValueError("fitted on formulas, given a numeric matrix")
        if A.shape[1] > N_ELEMENTS:
            raise ValueError(
                f"an amount matrix has at most {N_ELEMENTS} columns, got {A.shape[1]}"
            )
        if np.any(A < 0):
            raise ValueError(
                "Negative values in data passed to a composition featurizer"
            )
        return A

    def fit(self, X, y=None):
        """Record the input kind and width; nothing is learned."""
        self._amounts(X, reset=True)
        return self

    def _n_elements(self) -> int:
        return N_ELEMENTS if self.input_kind_ == "formula" else self.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


# the Magpie table lives in matml.io (the equivariant models read it too)
_magpie_table = magpie_table
