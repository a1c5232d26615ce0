"""Figures of the table commands (matplotlib, Agg backend; see :mod:`matml._plots`)."""

from __future__ import annotations

import numpy as np

from matml._plots import new_figure, parity_panel

__all__ = ["new_figure", "parity_grid", "importance_bar", "tree_picture", "heatmap"]


def parity_grid(y, predictions: dict[str, np.ndarray], metrics: dict, unit: str = ""):
    """Predicted against true values, one panel per model, with MAE and R²."""
    names = list(predictions)
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = new_figure(ncols, nrows)
    for ax, name in zip(axes.flat, names, strict=False):
        parity_panel(
            ax,
            y,
            predictions[name],
            xlabel=f"true {unit}".strip(),
            ylabel=f"predicted (out of fold) {unit}".strip(),
            size=8,
            alpha=0.5,
        )
        m = metrics[name]
        ax.set_title(f"{name}: MAE {m['mae']:.3g}, R² {m['r2']:.3f}", fontsize=10)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def importance_bar(names, values, title: str, top: int = 20):
    """Horizontal bars of the ``top`` largest importances."""
    values = np.asarray(values, float)
    order = np.argsort(values)[::-1][:top][::-1]
    fig, axes = new_figure(size=(7.0, 0.28 * len(order) + 1.2))
    ax = axes[0, 0]
    ax.barh([str(names[i]) for i in order], values[order], color="tab:blue")
    ax.set_xlabel("importance")
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def tree_picture(tree, feature_names, title: str):
    """A drawing of a fitted shallow decision tree."""
    from sklearn.tree import plot_tree

    fig, axes = new_figure(size=(14.0, 6.5))
    plot_tree(
        tree,
        feature_names=[str(n) for n in feature_names],
        filled=True,
        rounded=True,
        fontsize=8,
        ax=axes[0, 0],
        precision=3,
        impurity=False,
    )
    axes[0, 0].set_title(title)
    return fig


def heatmap(matrix, labels, title: str):
    """A correlation heatmap with values written in the cells (when few)."""
    matrix = np.asarray(matrix, float)
    n = len(labels)
    side = max(4.5, 0.45 * n + 2)
    fig, axes = new_figure(size=(side + 1, side))
    ax = axes[0, 0]
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                v = matrix[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if abs(v) > 0.6 else "black",
                )
    fig.colorbar(im, ax=ax, shrink=0.8, label="correlation")
    ax.set_title(title)
    fig.tight_layout()
    return fig
