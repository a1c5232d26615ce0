"""``matml table cluster``: k-means, Gaussian mixtures and DBSCAN on a table's features.

Rows are clustered on their first ``n_components`` principal components (of the
standardised features). k is chosen by the silhouette score; DBSCAN's ``eps`` is
suggested from the knee of the k-distance curve (distance of each row to its
``min_samples``-th neighbour, sorted).
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

__all__ = ["k_distance_eps", "silhouette_scan", "cluster_table"]


def k_distance_eps(X, min_samples: int = 5) -> tuple[float, np.ndarray]:
    """Suggested DBSCAN ``eps``: the knee of the sorted k-distance curve.

    The knee is the point farthest from the straight line joining the curve's ends.

    Returns:
        (eps, sorted k-distances).
    """
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=min(min_samples + 1, len(X))).fit(X)
    dist = np.sort(nn.kneighbors(X)[0][:, -1])
    x = np.linspace(0.0, 1.0, len(dist))
    span = dist[-1] - dist[0]
    y = (dist - dist[0]) / span if span > 0 else np.zeros_like(dist)
    knee = int(np.argmax(x - y))  # below the chord of a convex curve
    return float(dist[knee]), dist


def _silhouette(X, labels, seed):
    from sklearn.metrics import silhouette_score

    if len(set(labels)) < 2:
        return float("nan")
    return float(
        silhouette_score(X, labels, sample_size=min(len(X), 2000), random_state=seed)
    )


def _projected(table, features, n_components, seed):
    """The table's standardised features on their first principal components."""
    from sklearn.decomposition import PCA

    X, _ = feature_matrix(table, features)
    n = X.shape[0]
    if n < 4:
        raise InputError(f"clustering needs at least 4 rows, got {n}")
    ncomp = max(2, min(n_components, X.shape[1], n))
    return PCA(n_components=ncomp, random_state=seed).fit_transform(X)


def _kmeans(Z, k, seed):
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=10, random_state=seed).fit(Z).labels_


def _mixture(Z, k, seed):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(
        k, covariance_type="full", random_state=seed, reg_covar=1e-4
    ).fit(Z)


def silhouette_scan(Z, k_max: int, seed: int = 0) -> list[dict]:
    """Silhouette of k-means and of a Gaussian mixture (and its BIC), k = 2..k_max."""
    rows = []
    for k in range(2, k_max + 1):
        gm = _mixture(Z, k, seed)
        rows.append(
            {
                "k": k,
                "kmeans_silhouette": _silhouette(Z, _kmeans(Z, k, seed), seed),
                "gmm_silhouette": _silhouette(Z, gm.predict(Z), seed),
                "gmm_bic": gm.bic(Z),
            }
        )
    return rows


def _best_k(rows, key):
    return max(rows, key=lambda r: np.nan_to_num(r[key], nan=-1))["k"]


def _silhouette_figure(rows):
    fig, axes = new_figure(size=(5.0, 3.6))
    ax = axes[0, 0]
    ks = [r["k"] for r in rows]
    ax.plot(ks, [r["kmeans_silhouette"] for r in rows], "o-", label="k-means")
    ax.plot(ks, [r["gmm_silhouette"] for r in rows], "s--", label="Gaussian mixture")
    ax.set_xlabel("number of clusters k")
    ax.set_ylabel("silhouette score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _k_distance_figure(kdist, suggested, min_samples):
    fig, axes = new_figure(size=(5.0, 3.6))
    ax = axes[0, 0]
    ax.plot(np.arange(len(kdist)), kdist)
    ax.axhline(
        suggested, color="tab:red", ls="--", label=f"knee: eps = {suggested:.3g}"
    )
    ax.set_xlabel("rows, sorted")
    ax.set_ylabel(f"distance to neighbour {min_samples}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _clusters_figure(Z, labels: dict):
    """One panel per method: the rows on PC1/PC2 coloured by cluster, noise grey."""
    fig, axes = new_figure(3, 1, size=(4.6, 4.0))
    for ax, (name, lab) in zip(axes.flat, labels.items(), strict=True):
        noise_mask = lab == -1
        ax.scatter(
            Z[noise_mask, 0],
            Z[noise_mask, 1],
            s=5,
            c="lightgrey",
            label="noise" if noise_mask.any() else None,
        )
        ax.scatter(
            Z[~noise_mask, 0],
            Z[~noise_mask, 1],
            s=6,
            c=lab[~noise_mask],
            cmap="tab10",
            vmin=0,
            vmax=9,
        )
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    fig.tight_layout()
    return fig


def _cluster_sizes(labels: dict) -> list[dict]:
    return [
        {
            "method": name,
            "clusters": len(set(lab) - {-1}),
            "sizes": " ".join(
                str(int(np.sum(lab == c))) for c in sorted(set(lab) - {-1})
            ),
        }
        for name, lab in labels.items()
    ]


def _write_labels(table, labels: dict, out) -> None:
    """``labels.csv``: each row's formula and its cluster by each method."""
    import pandas as pd

    from matml._files import atomic_path

    frame = pd.DataFrame(
        {
            "formula": table.frame[table.formula_column],
            **{name.split(" (")[0]: lab for name, lab in labels.items()},
        }
    )
    with atomic_path(Path(out) / "labels.csv") as tmp:
        frame.to_csv(tmp, index=False)


@one_thread
def cluster_table(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    k_max: int = 8,
    n_components: int = 10,
    min_samples: int = 5,
    eps: float | None = None,
    seed: int = 0,
    features: tuple[str, ...] = DEFAULT_FEATURES,
    exclude: tuple[str, ...] = (),
    formula_column: str | None = "auto",
    echo=print,
) -> dict:
    """Cluster rows three ways; silhouette-vs-k plot, k-distance plot, 2D picture."""
    from sklearn.cluster import DBSCAN

    table = load_command_table(data, formula_column=formula_column, exclude=exclude)
    with naming_file(table.source):
        Z = _projected(table, features, n_components, seed)
        n, ncomp = Z.shape
        k_max = min(k_max, n - 1)
        if k_max < 2:
            raise InputError(f"--k-max must be at least 2, got {k_max}", field="k_max")
        suggested, kdist = k_distance_eps(Z, min_samples)
        eps_used = suggested if eps is None else eps
        if eps_used <= 0:
            raise InputError(f"eps must be positive, got {eps_used}", field="eps")
    config = {
        "command": "table cluster",
        "data": str(data),
        "k_max": k_max,
        "n_components": ncomp,
        "min_samples": min_samples,
        "eps": eps,
        "features": list(features),
        "formula_column": table.formula_column,
        "numeric_columns": table.numeric_columns,
    }
    rep = Report(out, f"Cluster: {Path(str(data)).name}", config, seed)
    echo(
        f"{n} rows ({len(table.drops)} dropped), clustered on {ncomp} principal components"
    )
    rep.notes(table.notes())

    rows = silhouette_scan(Z, k_max, seed)
    best_km = _best_k(rows, "kmeans_silhouette")
    best_gm = _best_k(rows, "gmm_silhouette")
    md = markdown_table(rows)
    echo(md)
    echo(f"best k by silhouette: k-means {best_km}, GMM {best_gm}")
    rep.section("Choosing k")
    rep.text(
        f"{n} rows clustered on their first {ncomp} principal components.\n\n"
        + md
        + f"\n\nBest k by silhouette: k-means **{best_km}**, Gaussian mixture **{best_gm}**."
    )
    rep.figure(_silhouette_figure(rows), "silhouette", "Silhouette score against k")

    db = DBSCAN(eps=eps_used, min_samples=min_samples).fit(Z)
    n_db = len(set(db.labels_) - {-1})
    noise = int(np.sum(db.labels_ == -1))
    echo(
        f"DBSCAN: eps {eps_used:.4g} (suggested {suggested:.4g}), {n_db} clusters, {noise} noise rows"
    )
    rep.section("DBSCAN")
    rep.text(
        f"Suggested eps from the k-distance knee: {suggested:.4g}; used {eps_used:.4g}. "
        f"{n_db} clusters, {noise} rows labelled noise."
    )
    rep.figure(
        _k_distance_figure(kdist, suggested, min_samples),
        "k_distance",
        "Sorted k-distance curve and its knee",
    )

    labels = {
        f"k-means (k={best_km})": _kmeans(Z, best_km, seed),
        f"Gaussian mixture (k={best_gm})": _mixture(Z, best_gm, seed).predict(Z),
        f"DBSCAN (eps={eps_used:.3g})": db.labels_,
    }
    rep.section("The clusters")
    rep.figure(
        _clusters_figure(Z, labels),
        "clusters",
        "Clusters on the first two principal components",
    )
    rep.table(_cluster_sizes(labels))
    if table.formula_column is not None:
        _write_labels(table, labels, out)
    rep.results = {
        "rows": n,
        "silhouette": rows,
        "best_k_kmeans": best_km,
        "best_k_gmm": best_gm,
        "dbscan_eps_suggested": suggested,
        "dbscan_eps": eps_used,
        "dbscan_clusters": n_db,
        "dbscan_noise": noise,
    }
    rep.write()
    echo(f"report: {Path(out) / 'report.md'}")
    return rep.results
