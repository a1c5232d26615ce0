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

from matml._plots import new_figure
from matml.errors import InputError
from matml.tabular._threads import one_thread
from matml.tabular.featurize import DEFAULT_FEATURES, feature_matrix
from matml.tabular.reading import load_command_table, naming_file
from matml.tabular.report import Report, markdown_table

__all__ = ["feature_matrix", "reduce_table"]


def _check_sizes(n: int, d: int, k: int, bottleneck: int) -> None:
    if k < 1 or k > min(n, d):
        raise InputError(f"k must be between 1 and {min(n, d)}, got {k}", field="k")
    if bottleneck < 1 or bottleneck > d:
        raise InputError(
            f"bottleneck must be between 1 and {d}, got {bottleneck}",
            field="bottleneck",
        )


def _regression_target(table, target: str, cv: int):
    y = table.frame[target].to_numpy(float)
    if len(y) < cv:
        raise InputError(f"{len(y)} rows is fewer than the {cv} CV folds", field="cv")
    if np.ptp(y) == 0:
        raise InputError("target is constant; nothing to learn", field=target)
    return y


def _variance_figure(ratio, cum, n90: int, show: int):
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
    return fig


def _scores_figure(scores, ratio, color, target):
    fig, axes = new_figure(size=(5.2, 4.2))
    ax = axes[0, 0]
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
    return fig


def _loss_figure(curve, pca_err: float, bottleneck: int):
    fig, axes = new_figure(size=(5.0, 3.6))
    axes[0, 0].semilogy(range(1, len(curve) + 1), curve)
    axes[0, 0].axhline(
        pca_err, color="tab:orange", ls="--", label=f"PCA with {bottleneck} components"
    )
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].set_ylabel("reconstruction MSE (standardised)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _pca_section(rep, X, k, color, target, seed, echo) -> dict:
    """Explained variance and the scores picture; the PCA numbers for the results."""
    from sklearn.decomposition import PCA

    pca = PCA(random_state=seed).fit(X)
    ratio = pca.explained_variance_ratio_
    cum = np.cumsum(ratio)
    n90 = int(np.searchsorted(cum, 0.9) + 1)
    show = min(len(ratio), 30)
    rep.section("Principal component analysis")
    rows = [
        {"component": i + 1, "explained": ratio[i], "cumulative": cum[i]}
        for i in range(min(k, len(ratio)))
    ]
    rep.table(rows)
    rep.figure(
        _variance_figure(ratio, cum, n90, show),
        "pca_variance",
        "Explained and cumulative variance of the principal components",
    )
    line = f"PCA: first {k} components explain {cum[k - 1]:.3f} of the variance; 90% needs {n90}"
    echo(line)
    rep.text(line + ".")
    rep.figure(
        _scores_figure(pca.transform(X)[:, :2], ratio, color, target),
        "pca_scores",
        "The rows on the first two principal components",
    )
    return {
        "explained_variance_ratio": ratio[:show].tolist(),
        "components_for_90pct": n90,
    }


def _autoencoder_section(rep, X, bottleneck, epochs, seed, echo) -> dict:
    """Autoencoder against PCA of the same size: reconstruction MSE, loss curve."""
    from sklearn.decomposition import PCA

    from matml.tabular.autoencoder import Autoencoder

    ae = Autoencoder(bottleneck=bottleneck, epochs=epochs, seed=seed).fit(X)
    ae_err = ae.reconstruction_error(X)
    pca_k = PCA(n_components=bottleneck, random_state=seed).fit(X)
    pca_err = float(np.mean((pca_k.inverse_transform(pca_k.transform(X)) - X) ** 2))
    rep.section(f"Autoencoder (bottleneck {bottleneck})")
    rep.text(
        "Reconstruction MSE of the standardised features, on the rows both were "
        f"fitted to: autoencoder {ae_err:.4g}, PCA with {bottleneck} components {pca_err:.4g}."
    )
    rep.figure(
        _loss_figure(ae.loss_curve_, pca_err, bottleneck),
        "autoencoder_loss",
        "Autoencoder training loss",
    )
    echo(
        f"reconstruction MSE: autoencoder {ae_err:.4g}, PCA({bottleneck}) {pca_err:.4g}"
    )
    return {"ae_reconstruction_mse": ae_err, "pca_reconstruction_mse": pca_err}


def linear_comparison(X, y, *, k, bottleneck, epochs, cv, seed) -> list[dict]:
    """Cross-validated ridge fits on all features, on k PCs, on the autoencoder code.

    The reducers are fitted inside each training fold.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    from matml.tabular.autoencoder import Autoencoder
    from matml.tabular.models import regression_metrics

    folds = KFold(cv, shuffle=True, random_state=seed)
    ridge = RidgeCV(alphas=np.logspace(-4, 3, 15))
    variants = {
        f"all {X.shape[1]} features": make_pipeline(ridge),
        f"first {k} PCs": make_pipeline(PCA(n_components=k, random_state=seed), ridge),
        f"autoencoder code ({bottleneck})": make_pipeline(
            Autoencoder(bottleneck=bottleneck, epochs=epochs, seed=seed), ridge
        ),
    }
    rows = []
    for name, model in variants.items():
        pred = cross_val_predict(model, X, y, cv=folds)
        rows.append({"inputs": name, **regression_metrics(y, pred)})
    return rows


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
    features: tuple[str, ...] = DEFAULT_FEATURES,
    exclude: tuple[str, ...] = (),
    formula_column: str | None = "auto",
    echo=print,
) -> dict:
    """PCA and autoencoder of a table's features; linear-fit comparison if ``target``."""
    bottleneck = k if bottleneck is None else bottleneck
    table = load_command_table(
        data, target=target, formula_column=formula_column, exclude=exclude
    )
    with naming_file(table.source):
        X, _ = feature_matrix(table, features)
        n, d = X.shape
        _check_sizes(n, d, k, bottleneck)
        y = None if target is None else _regression_target(table, target, cv)
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
    rep.notes(table.notes())
    results = {"rows": n, "features": d}
    results |= _pca_section(rep, X, k, y, target, seed, echo)
    results |= _autoencoder_section(rep, X, bottleneck, epochs, seed, echo)
    if y is not None:
        rows = linear_comparison(
            X, y, k=k, bottleneck=bottleneck, epochs=epochs, cv=cv, seed=seed
        )
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
