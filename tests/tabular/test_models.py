"""Model pieces: the zero-inflated regressor follows scikit-learn's conventions."""

from __future__ import annotations

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from matml.tabular.models import ZeroInflatedRegressor, regression_metrics


@parametrize_with_checks(
    [
        ZeroInflatedRegressor(
            DecisionTreeClassifier(random_state=0),
            DecisionTreeRegressor(random_state=0),
        )
    ]
)
def test_zero_inflated_sklearn_conformance(estimator, check):
    check(estimator)


def test_regression_metrics_by_hand():
    m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    assert m["mae"] == 0.25
    assert np.isclose(m["rmse"], np.sqrt(0.125))
    assert np.isclose(m["r2"], 1 - 0.5 / 5.0)
    assert np.isclose(m["r"], np.corrcoef([1, 2, 3, 4], [1.5, 2, 2.5, 4])[0, 1])
