"""``matml table reduce``: PCA, an autoencoder, and the course's linear-fit comparison.

Features (composition + numeric columns) are standardised; PCA shows how much
variance the leading components hold; an autoencoder learns a ``bottleneck``-sized
code; a ridge fit of the target is cross-validated on all features, on the first
``k`` principal components and on the autoencoder's code (PCA and autoencoder are
fitted inside each training fold).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from matml.errors import InputError
from matml.tabular._threads import one_thread
from matml.tabular.featurize import composition_features
from matml.tabular.reading import load_table
from matml.tabular.report import Report, markdown_table

__all__ = ["feature_matrix", "reduce_table"]


def feature_matrix(table, kinds=("magpie", "stoich", "fractions")):
    """Standardised, non-constant feature matrix of a loaded table and the names."""
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if table.formula_column is None and not table.numeric_columns:
        raise InputError(
            "no features: no formula column and no numeric columns", file=table.source
        )
    pre = Pipeline(
        [
            (
                "features",
                composition_features(
                    table.formula_column, table.numeric_columns, tuple(kinds)
                ),
            ),
            ("nonconstant", VarianceThreshold(0.0)),
            ("scale", StandardScaler()),
        ]
    )
    X = pre.fit_transform(table.frame)
    return X, list(pre.get_feature_names_out())


@one_thread
def reduce_table(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    target: str | None = None,
    k: int = 5,
    bottleneck: int | None = None,
    epochs: int = 150,
    cv: int = 5,
    seed: int = 0,
    features: tuple[str, ...] = ("magpie", "stoich", "fractions"),
    exclude: tuple[str, ...] = (),
    formula_column: str | None = "auto",
    echo=print,
) -> dict:
    """PCA and autoencoder of a table's features; linear-fit comparison if ``target``."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    from matml.tabular.autoencoder import Autoencoder
    from matml.tabular.models import regression_metrics
    from matml.tabular.plots import new_figure

    bottleneck = k if bottleneck is None else bottleneck
    table = load_table(
        data,
        target=target,
        formula_column=formula_column,
        numeric_columns="auto",
        exclude=exclude,
    )
    X, names = feature_matrix(table, features)
    n, d = X.shape
    if k < 1 or k > min(n, d):
        raise InputError(f"k must be between 1 and {min(n, d)}, got {k}", field="k")
    if bottleneck < 1 or bottleneck > d:
        raise InputError(
            f"bottleneck must be between 1 and {d}, got {bottleneck}",
            field="bottleneck",
        )
    config = {
        "command": "table reduce",
        "data": str(data),
        "target": target,
        "k": k,
        "bottleneck": bottleneck,
        "epochs": epochs,
        "cv": cv,
        "features": list(features),
        "formula_column": table.formula_column,
        "numeric_columns": table.numeric_columns,
    }
    rep = Report(out, f"Reduce: {Path(str(data)).name}", config, seed)
    echo(f"{n} rows ({len(table.drops)} dropped), {d} standardised features")
    rep.section("Data")
    rep.text(
        f"{n} rows used, {len(table.drops)} dropped; {d} non-constant standardised features."
    )
    if table.notes():
        rep.text("Data notes:\n\n" + "\n".join(f"- {x}" for x in table.notes()))

    pca = PCA(random_state=seed).fit(X)
    ratio = pca.explained_variance_ratio_
    cum = np.cumsum(ratio)
    n90 = int(np.searchsorted(cum, 0.9) + 1)
    show = min(len(ratio), 30)
    fig, axes = new_figure(2, 1, size=(5.0, 3.8))
    axes[0, 0].bar(range(1, show + 1), ratio[:show], color="tab:blue")
    axes[0, 0].set_xlabel("principal component")
    axes[0, 0].set_ylabel("explained variance ratio")
    axes[0, 1].plot(range(1, len(cum) + 1), cum, "-", color="tab:orange")
    axes[0, 1].axhline(0.9, color="grey", ls=":", lw=1)
    axes[0, 1].axvline(n90, color="grey", ls=":", lw=1)
    axes[0, 1].set_xlabel("number of components")
    axes[0, 1].set_ylabel("cumulative explained variance")
    axes[0, 1].set_title(f"90% of the variance in {n90} components", fontsize=10)
    fig.tight_layout()
    rep.section("Principal component analysis")
    rows = [
        {"component": i + 1, "explained": ratio[i], "cumulative": cum[i]}
        for i in range(min(k, len(ratio)))
    ]
    rep.table(rows)
    rep.figure(
        fig,
        "pca_variance",
        "Explained and cumulative variance of the principal components",
    )
    line = f"PCA: first {k} components explain {cum[k - 1]:.3f} of the variance; 90% needs {n90}"
    echo(line)
    rep.text(line + ".")
    scores = pca.transform(X)[:, :2]
    fig, axes = new_figure(size=(5.2, 4.2))
    ax = axes[0, 0]
    color = table.frame[target].to_numpy(float) if target else None
    sc = ax.scatter(
        scores[:, 0],
        scores[:, 1],
        c=color,
        s=6,
        alpha=0.6,
        cmap="viridis",
        edgecolors="none",
    )
    if color is not None:
        fig.colorbar(sc, ax=ax, label=target)
    ax.set_xlabel(f"PC1 ({ratio[0]:.1%})")
    ax.set_ylabel(f"PC2 ({ratio[1]:.1%})" if len(ratio) > 1 else "PC2")
    fig.tight_layout()
    rep.figure(fig, "pca_scores", "The rows on the first two principal components")

    ae = Autoencoder(bottleneck=bottleneck, epochs=epochs, seed=seed).fit(X)
    ae_err = ae.reconstruction_error(X)
    pca_k = PCA(n_components=bottleneck, random_state=seed).fit(X)
    pca_err = float(np.mean((pca_k.inverse_transform(pca_k.transform(X)) - X) ** 2))
    fig, axes = new_figure(size=(5.0, 3.6))
    axes[0, 0].semilogy(range(1, len(ae.loss_curve_) + 1), ae.loss_curve_)
    axes[0, 0].axhline(
        pca_err, color="tab:orange", ls="--", label=f"PCA with {bottleneck} components"
    )
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_ylabel("reconstruction MSE (standardised)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    rep.section(f"Autoencoder (bottleneck {bottleneck})")
    rep.text(
        "Reconstruction MSE of the standardised features, on the rows both were "
        f"fitted to: autoencoder {ae_err:.4g}, PCA with {bottleneck} components {pca_err:.4g}."
    )
    rep.figure(fig, "autoencoder_loss", "Autoencoder training loss")
    echo(
        f"reconstruction MSE: autoencoder {ae_err:.4g}, PCA({bottleneck}) {pca_err:.4g}"
    )
    results = {
        "rows": n,
        "features": d,
        "explained_variance_ratio": ratio[:show].tolist(),
        "components_for_90pct": n90,
        "ae_reconstruction_mse": ae_err,
        "pca_reconstruction_mse": pca_err,
    }

    if target is not None:
        y = table.frame[target].to_numpy(float)
        if n < cv:
            raise InputError(f"{n} rows is fewer than the {cv} CV folds", field="cv")
        if np.ptp(y) == 0:
            raise InputError("target is constant; nothing to learn", field=target)
        folds = KFold(cv, shuffle=True, random_state=seed)
        ridge = RidgeCV(alphas=np.logspace(-4, 3, 15))
        variants = {
            f"all {d} features": make_pipeline(ridge),
            f"first {k} PCs": make_pipeline(
                PCA(n_components=k, random_state=seed), ridge
            ),
            f"autoencoder code ({bottleneck})": make_pipeline(
                Autoencoder(bottleneck=bottleneck, epochs=epochs, seed=seed), ridge
            ),
        }
        rows = []
        for name, model in variants.items():
            pred = cross_val_predict(model, X, y, cv=folds)
            rows.append({"inputs": name, **regression_metrics(y, pred)})
        md = markdown_table(rows)
        echo(f"linear (ridge) fit of {target}, {cv}-fold CV:")
        echo(md)
        rep.section("Linear fit on all features, on principal components, on the code")
        rep.text(
            f"Ridge regression of `{target}`, {cv}-fold CV (the reducers are fitted in "
            "each training fold).\n\n" + md
        )
        results["linear_fit"] = rows
    rep.results = results
    rep.write()
    echo(f"report: {Path(out) / 'report.md'}")
    return results
