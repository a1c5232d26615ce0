"""Figure helpers shared by every package that draws (tabular, train, course).

matplotlib is imported lazily on the Agg backend (no display needed), figures are
written atomically (PNG) and closed, and a parity panel (predicted against reference,
with the diagonal and the RMSE) is drawn one way everywhere. Nothing here imports
from matml beyond :mod:`matml._files`, so any layer may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from matml._files import atomic_path

__all__ = ["pyplot", "new_figure", "save_figure", "parity_panel"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (4.2, 3.8)):
    """A figure of ``nrows x ncols`` axes, each ``size`` inches; axes always 2-D.

    >>> fig, axes = new_figure(2, 1, size=(3.0, 2.0))
    >>> axes.shape, fig.get_size_inches().tolist()
    ((1, 2), [6.0, 2.0])
    >>> pyplot().close(fig)
    """
    fig, axes = pyplot().subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    return fig, axes


def save_figure(
    fig,
    path: str | os.PathLike,
    *,
    dpi: int = 120,
    layout: bool = True,
    bbox_inches: str | None = None,
) -> Path:
    """Write ``fig`` as PNG atomically and close it.

    Args:
        fig: the matplotlib figure.
        path: where to write (parent folders are created).
        dpi: resolution.
        layout: apply ``tight_layout`` first.
        bbox_inches: passed to ``savefig`` (``"tight"`` crops to the drawn area).
    """
    if layout:
        fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches=bbox_inches)
    pyplot().close(fig)
    return path


def parity_panel(
    ax,
    ref,
    pred,
    *,
    xlabel: str,
    ylabel: str,
    size: float = 6,
    color=None,
    alpha: float = 0.6,
) -> float:
    """Predicted against reference on ``ax``: points, the diagonal, equal axes.

    Both axes span the values of ``ref`` and ``pred`` with 5% margins. The caller
    writes the title (with the returned RMSE, or its own metrics).

    Returns:
        the RMSE of ``pred - ref``.

    >>> fig, axes = new_figure()
    >>> parity_panel(axes[0, 0], [0.0, 1.0], [0.0, 2.0], xlabel="x", ylabel="y")
    0.7071067811865476
    >>> pyplot().close(fig)
    """
    ref = np.ravel(np.asarray(ref, float))
    pred = np.ravel(np.asarray(pred, float))
    lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    ax.scatter(ref, pred, s=size, alpha=alpha, color=color, edgecolors="none")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return float(np.sqrt(np.mean((pred - ref) ** 2)))
