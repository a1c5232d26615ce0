"""Figures of a trained potential: parity plots and learning curves (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matml._files import atomic_path

__all__ = ["parity_plot", "learning_curve"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, dpi: int) -> Path:
    """Lay out ``fig``, write it as PNG atomically, and close it."""
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    _plt().close(fig)
    return path


def _panel(ax, ref, pred, label, unit, factor=1.0):
    ref, pred = np.ravel(ref) * factor, np.ravel(pred) * factor
    lo, hi = float(min(ref.min(), pred.min())), float(max(ref.max(), pred.max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", lw=0.8)
    ax.scatter(ref, pred, s=6, alpha=0.6, edgecolors="none")
    rmse = float(np.sqrt(np.mean((pred - ref) ** 2)))
    ax.set_title(f"{label}: RMSE {rmse:.3g} {unit}")
    ax.set_xlabel(f"reference ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    ax.set_aspect("equal", adjustable="box")


def parity_plot(evaluation, path, title: str | None = None) -> Path:
    """Predicted against reference energy (per atom), forces and stress."""
    from matml.keys import EV_PER_A3_TO_GPA

    plt = _plt()
    panels = [
        (evaluation.energy_ref, evaluation.energy_pred, "energy", "meV/atom", 1e3)
    ]
    if len(evaluation.forces_ref):
        panels.append(
            (evaluation.forces_ref, evaluation.forces_pred, "forces", "eV/Å", 1.0)
        )
    if len(evaluation.stress_ref):
        panels.append(
            (
                evaluation.stress_ref,
                evaluation.stress_pred,
                "stress (Voigt)",
                "GPa",
                EV_PER_A3_TO_GPA,
            )
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.2))
    axes = np.atleast_1d(axes)
    for ax, (ref, pred, label, unit, factor) in zip(axes, panels, strict=True):
        if label == "energy":  # show per-atom energies relative to their mean
            off = float(np.mean(ref))
            ref, pred = ref - off, pred - off
            label = "energy - mean"
        _panel(ax, ref, pred, label, unit, factor)
    if title:
        fig.suptitle(title)
    return _save(fig, path, dpi=120)


def learning_curve(rows: list[dict], path) -> Path:
    """Validation energy and force RMSE against epoch."""
    plt = _plt()
    epoch = [int(r["epoch"]) for r in rows]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    for a, key, unit in (
        (ax[0], "energy_rmse", "meV/atom"),
        (ax[1], "forces_rmse", "eV/Å"),
    ):
        for split in ("train", "valid"):
            vals = [r.get(f"{split}_{key}") for r in rows]
            if all(v not in (None, "") for v in vals):
                a.semilogy(epoch, [float(v) for v in vals], label=split)
        a.set_xlabel("epoch")
        a.set_ylabel(f"{key.replace('_', ' ')} ({unit})")
        if a.get_lines():
            a.legend()
    return _save(fig, path, dpi=110)
