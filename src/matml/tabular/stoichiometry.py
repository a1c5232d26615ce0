"""Composition attributes beyond element-property statistics (Ward et al. 2016).

The Magpie paper's other attribute groups, computed from the same per-element table:
stoichiometry (number of elements and p-norms of the fractions), valence-orbital
fractions (share of s, p, d, f valence electrons) and ionic character from
Pauling electronegativities, ``I(a, b) = 1 - exp(-(chi_a - chi_b)^2 / 4)``
(fraction-weighted mean over pairs, and maximum over pairs present).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from matml.tabular._composition import _CompositionTransformer, _magpie_table

__all__ = ["StoichiometryFeatures"]

_NORMS = (2, 3, 5, 7, 10)


class StoichiometryFeatures(_CompositionTransformer):
    """Stoichiometry, valence-orbital and ionic-character attributes (12 columns).

    >>> s = StoichiometryFeatures().fit(["NaCl"])
    >>> s.transform(["NaCl"])[0, :2].round(4).tolist()  # n_elements, norm_2
    [2.0, 0.7071]
    """

    def transform(self, X):
        """The 12 attributes of each row (zeros for an empty row)."""
        check_is_fitted(self, "input_kind_")
        A = self._amounts(X, reset=False)
        table, props, _ = _magpie_table()
        table = table[: A.shape[1]]
        col = {p: table[:, i] for i, p in enumerate(props)}
        total = A.sum(axis=1, keepdims=True)
        F = np.divide(A, total, out=np.zeros_like(A), where=total > 0)
        out = [(F > 0).sum(axis=1).astype(float)]
        out += [(F**p).sum(axis=1) ** (1.0 / p) for p in _NORMS]
        valence = F @ col["NValence"]
        for orb in "spdf":
            share = F @ col[f"N{orb}Valence"]
            out.append(
                np.divide(share, valence, out=np.zeros_like(share), where=valence > 0)
            )
        chi = col["Electronegativity"]
        ionic = 1.0 - np.exp(-0.25 * (chi[:, None] - chi[None, :]) ** 2)
        out.append(np.einsum("ni,ij,nj->n", F, ionic, F))
        present = F > 0
        width = max(1, int(present.sum(axis=1).max(initial=0)))
        idx = np.argsort(~present, axis=1, kind="stable")[:, :width]
        ok = np.take_along_axis(present, idx, axis=1)
        pair = ionic[idx[:, :, None], idx[:, None, :]] * (
            ok[:, :, None] & ok[:, None, :]
        )
        out.append(pair.reshape(len(F), -1).max(axis=1))
        return np.stack(out, axis=1)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "input_kind_")
        names = ["n_elements", *(f"norm_{p}" for p in _NORMS)]
        names += [f"frac_{o}_valence" for o in "spdf"]
        names += ["mean_ionic_character", "max_ionic_character"]
        return np.asarray(names, dtype=object)
