"""Model zoo and cross-validation: scikit-learn pipelines, one table of metrics.

Every model is a ``Pipeline`` whose first step builds the features from the raw
table (:func:`matml.tabular.featurize.composition_features`), so a saved model
predicts from a table of formulas directly, and CV folds never see test rows while
fitting scalers or choosing hyperparameters (nested CV for the polynomial degree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from matml.errors import InputError

__all__ = [
    "REGRESSORS",
    "CLASSIFIERS",
    "ZeroInflatedRegressor",
    "make_estimator",
    "make_pipeline",
    "regression_metrics",
    "classification_metrics",
    "CVResult",
    "cross_validate_models",
]

REGRESSORS = ("linear", "poly", "tree", "forest", "extra", "zero", "gbr", "mlp")
CLASSIFIERS = ("logistic", "tree", "forest", "extra", "gbc", "mlp")


class ZeroInflatedRegressor(RegressorMixin, BaseEstimator):
    """Classifier for ``y != 0``, then a regressor trained on the non-zero rows.

    Suited to targets with many exact zeros, such as band gaps (metals). Predicts 0
    where the classifier's probability of non-zero is below ``threshold``.

    Args:
        classifier: scikit-learn classifier with ``predict_proba``.
        regressor: scikit-learn regressor.
        threshold: probability above which the regressor's value is used.

    >>> from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    >>> m = ZeroInflatedRegressor(DecisionTreeClassifier(), DecisionTreeRegressor())
    >>> m.fit([[0.0], [1.0], [2.0], [3.0]], [0.0, 0.0, 2.0, 3.0]).predict([[0.0], [3.0]])
    array([0., 3.])
    """

    def __init__(self, classifier=None, regressor=None, threshold: float = 0.5):
        self.classifier = classifier
        self.regressor = regressor
        self.threshold = threshold

    def fit(self, X, y):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        X, y = validate_data(self, X, y, y_numeric=True)
        nonzero = y != 0
        clf = (
            self.classifier
            if self.classifier is not None
            else ExtraTreesClassifier(random_state=0)
        )
        reg = (
            self.regressor
            if self.regressor is not None
            else ExtraTreesRegressor(random_state=0)
        )
        if nonzero.all() or not nonzero.any():
            self.classifier_ = None
            self.constant_ = 0.0 if not nonzero.any() else None
        else:
            self.classifier_ = clone(clf).fit(X, nonzero)
            self.constant_ = None
        self.regressor_ = clone(reg).fit(
            X[nonzero] if nonzero.any() else X, y[nonzero] if nonzero.any() else y
        )
        return self

    def predict(self, X):
        check_is_fitted(self, "regressor_")
        X = validate_data(self, X, reset=False)
        if self.constant_ is not None:
            return np.full(X.shape[0], self.constant_)
        out = self.regressor_.predict(X)
        if self.classifier_ is not None:
            p = self.classifier_.predict_proba(X)[
                :, list(self.classifier_.classes_).index(True)
            ]
            out = np.where(p > self.threshold, out, 0.0)
        return out

    @property
    def feature_importances_(self):
        check_is_fitted(self, "regressor_")
        return self.regressor_.feature_importances_


def make_estimator(name: str, task: str = "regression", seed: int = 0, n_jobs: int = 1):
    """The bare estimator of a model name (see :data:`REGRESSORS`, :data:`CLASSIFIERS`).

    Regressors: ``linear`` (ridge, alpha by internal CV), ``poly`` (see
    :func:`make_pipeline`), ``tree``, ``forest`` (random forest), ``extra`` (extra
    trees), ``zero`` (extra-trees classifier of zero/non-zero, then extra-trees
    regressor: for targets with many exact zeros, such as band gaps), ``gbr``
    (histogram gradient boosting), ``mlp``. Classifiers: ``logistic``, ``tree``,
    ``forest``, ``extra``, ``gbc``, ``mlp``.
    """
    from sklearn import ensemble, linear_model, neural_network, tree

    if task == "regression":
        table = {
            "linear": lambda: linear_model.RidgeCV(alphas=np.logspace(-4, 3, 15)),
            "tree": lambda: tree.DecisionTreeRegressor(
                min_samples_leaf=3, random_state=seed
            ),
            "forest": lambda: ensemble.RandomForestRegressor(
                200, max_features=0.33, random_state=seed, n_jobs=n_jobs
            ),
            "extra": lambda: ensemble.ExtraTreesRegressor(
                200, max_features=0.5, random_state=seed, n_jobs=n_jobs
            ),
            "zero": lambda: ZeroInflatedRegressor(
                ensemble.ExtraTreesClassifier(200, random_state=seed, n_jobs=n_jobs),
                ensemble.ExtraTreesRegressor(
                    200, max_features=0.5, random_state=seed, n_jobs=n_jobs
                ),
            ),
            "gbr": lambda: ensemble.HistGradientBoostingRegressor(
                max_iter=300, learning_rate=0.08, random_state=seed
            ),
            "mlp": lambda: neural_network.MLPRegressor(
                hidden_layer_sizes=(128, 64),
                alpha=1e-3,
                max_iter=300,
                early_stopping=True,
                random_state=seed,
            ),
        }
    elif task == "classification":
        table = {
            "logistic": lambda: linear_model.LogisticRegression(max_iter=2000),
            "tree": lambda: tree.DecisionTreeClassifier(
                min_samples_leaf=3, random_state=seed
            ),
            "forest": lambda: ensemble.RandomForestClassifier(
                200, random_state=seed, n_jobs=n_jobs
            ),
            "extra": lambda: ensemble.ExtraTreesClassifier(
                200, random_state=seed, n_jobs=n_jobs
            ),
            "gbc": lambda: ensemble.HistGradientBoostingClassifier(
                max_iter=300, learning_rate=0.05, random_state=seed
            ),
            "mlp": lambda: neural_network.MLPClassifier(
                hidden_layer_sizes=(128, 64),
                alpha=1e-3,
                max_iter=300,
                early_stopping=True,
                random_state=seed,
            ),
        }
    else:
        raise ValueError(f"task must be regression or classification, not {task!r}")
    if name not in table:
        names = REGRESSORS if task == "regression" else CLASSIFIERS
        raise InputError(
            f"unknown {task} model {name!r} (choose from {', '.join(names)})",
            field="models",
        )
    return table[name]()


def make_pipeline(
    name: str, features, task: str = "regression", seed: int = 0, n_jobs: int = 1
):
    """Features -> drop constant columns -> scale -> model, as one ``Pipeline``.

    ``poly`` is PCA to at most 8 components, polynomial features and ridge, with the
    degree (1, 2 or 3) chosen by an inner 3-fold CV on the training rows only.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import PolynomialFeatures

    from matml.tabular.featurize import preprocessing

    steps = preprocessing(features)
    if name == "poly" and task == "regression":
        inner = Pipeline(
            [
                ("pca", PCA(n_components=8, random_state=seed)),
                ("poly", PolynomialFeatures(degree=2)),
                ("ridge", RidgeCV(alphas=np.logspace(-4, 3, 15))),
            ]
        )
        est = GridSearchCV(
            inner, {"poly__degree": [1, 2, 3]}, cv=3, scoring="neg_mean_absolute_error"
        )
        steps.append(("model", _SafePCA(est)))
    else:
        steps.append(("model", make_estimator(name, task, seed, n_jobs)))
    return Pipeline(steps)


class _SafePCA(RegressorMixin, BaseEstimator):
    """Wraps the polynomial search so its PCA never asks for more components than exist."""

    def __init__(self, search):
        self.search = search

    def fit(self, X, y):
        X = np.asarray(X)
        n = max(1, min(8, X.shape[1], X.shape[0] // 3 - 1))
        self.search_ = (
            clone(self.search).set_params(estimator__pca__n_components=n).fit(X, y)
        )
        self.degree_ = self.search_.best_params_["poly__degree"]
        return self

    def predict(self, X):
        return self.search_.predict(np.asarray(X))


def regression_metrics(y, pred) -> dict[str, float]:
    """MAE, RMSE, Pearson R and R² of predictions.

    >>> regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["mae"]
    0.3333333333333333
    """
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(y, float)
    pred = np.asarray(pred, float)
    r = float(np.corrcoef(y, pred)[0, 1]) if np.std(pred) > 0 and np.std(y) > 0 else 0.0
    return {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "r": r,
        "r2": float(r2_score(y, pred)),
    }


def classification_metrics(y, pred, proba=None, classes=None) -> dict[str, float]:
    """Accuracy, balanced accuracy and ROC AUC (one-vs-rest when multiclass)."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

    out = {
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
    }
    if proba is not None:
        try:
            if proba.shape[1] == 2:
                out["roc_auc"] = float(roc_auc_score(y, proba[:, 1]))
            else:
                out["roc_auc"] = float(
                    roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                )
        except ValueError:
            out["roc_auc"] = float("nan")
    return out


@dataclass
class CVResult:
    """Out-of-fold predictions and metrics of several models on one table."""

    task: str
    y: np.ndarray
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    fold_metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    classes: list | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    poly_degrees: list[int] = field(default_factory=list)

    def best(self) -> str:
        key, sign = (
            ("mae", 1) if self.task == "regression" else ("balanced_accuracy", -1)
        )
        return min(self.metrics, key=lambda m: sign * self.metrics[m][key])


def cross_validate_models(
    frame,
    y,
    names,
    features,
    *,
    task="regression",
    cv=5,
    seed=0,
    progress=None,
    n_jobs=1,
) -> CVResult:
    """K-fold CV (shuffled, fixed seed) of each named model on ``frame``.

    Raises:
        InputError: fewer rows than folds, or a constant target.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    n = len(y)
    if cv < 2:
        raise InputError(f"--cv must be at least 2, got {cv}", field="cv")
    if n < cv:
        raise InputError(f"{n} rows is fewer than the {cv} CV folds", field="cv")
    if len(np.unique(y)) < 2:
        raise InputError("target is constant; nothing to learn", field="target")
    res = CVResult(task=task, y=y)
    if task == "classification":
        classes, counts = np.unique(y, return_counts=True)
        res.classes = classes.tolist()
        splitter = (
            StratifiedKFold(cv, shuffle=True, random_state=seed)
            if counts.min() >= cv
            else KFold(cv, shuffle=True, random_state=seed)
        )
    else:
        splitter = KFold(cv, shuffle=True, random_state=seed)
    folds = list(splitter.split(np.zeros(n), y))
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        # per-fold metrics of rare classes and capped MLP iterations warn on every
        # fold; the metrics table says what matters
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*classes not in y_true.*")
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        warnings.filterwarnings("ignore", message=".*number of unique classes.*")
        _run_folds(res, frame, y, names, features, folds, task, seed, n_jobs, progress)
    return res


def _run_folds(res, frame, y, names, features, folds, task, seed, n_jobs, progress):
    n = len(y)
    import time

    for name in names:
        t0 = time.perf_counter()
        model = make_pipeline(name, features, task, seed, n_jobs)
        pred = np.empty(n, dtype=float if task == "regression" else y.dtype)
        proba = np.zeros((n, len(res.classes))) if task == "classification" else None
        fold_m = []
        for train, test in folds:
            fitted = clone(model).fit(frame.iloc[train], y[train])
            pred[test] = fitted.predict(frame.iloc[test])
            if name == "poly" and task == "regression":
                res.poly_degrees.append(int(fitted.named_steps["model"].degree_))
            if task == "regression":
                fold_m.append(regression_metrics(y[test], pred[test]))
            else:
                if hasattr(fitted, "predict_proba"):
                    p = fitted.predict_proba(frame.iloc[test])
                    cols = [res.classes.index(c) for c in fitted.classes_]
                    proba[np.ix_(test, cols)] = p
                fold_m.append(classification_metrics(y[test], pred[test]))
            if progress is not None:
                progress()
        res.predictions[name] = pred
        res.fold_metrics[name] = fold_m
        if task == "regression":
            res.metrics[name] = regression_metrics(y, pred)
        else:
            res.metrics[name] = classification_metrics(y, pred, proba, res.classes)
        res.seconds[name] = time.perf_counter() - t0
