"""Figures of a trained potential: parity plots and learning curves (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matml._plots import new_figure, parity_panel, save_figure

__all__ = ["parity_plot", "learning_curve"]


def _panel(ax, ref, pred, label, unit, factor=1.0):
    rmse = parity_panel(
        ax,
        np.ravel(ref) * factor,
        np.ravel(pred) * factor,
        xlabel=f"reference ({unit})",
        ylabel=f"predicted ({unit})",
    )
    ax.set_title(f"{label}: RMSE {rmse:.3g} {unit}")


def parity_plot(evaluation, path, title: str | None = None) -> Path | None:
    """Predicted against reference energy (per atom), forces and stress, and one
    panel per declared property (every component, in the file's units)."""
    from matml.keys import EV_PER_A3_TO_GPA

    panels = []
    if len(evaluation.energy_ref):
        panels.append(
            (evaluation.energy_ref, evaluation.energy_pred, "energy", "meV/atom", 1e3)
        )
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
    for name, (ref, pred) in getattr(evaluation, "properties", {}).items():
        if len(ref):
            panels.append((ref, pred, name, "file units", 1.0))
    if not panels:  # no reference values at all: no figure
        return None
    fig, axes = new_figure(len(panels), 1, size=(4.3, 4.2))
    for ax, (ref, pred, label, unit, factor) in zip(axes[0], panels, strict=True):
        if label == "energy":  # show per-atom energies relative to their mean
            off = float(np.mean(ref))
            ref, pred = ref - off, pred - off
            label = "energy - mean"
        _panel(ax, ref, pred, label, unit, factor)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path, dpi=120)


def learning_curve(rows: list[dict], path) -> Path:
    """Validation energy and force RMSE against epoch."""
    epoch = [int(r["epoch"]) for r in rows]
    fig, axes = new_figure(2, 1, size=(4.5, 3.6))
    for a, key, unit in (
        (axes[0, 0], "energy_rmse", "meV/atom"),
        (axes[0, 1], "forces_rmse", "eV/Å"),
    ):
        for split in ("train", "valid"):
            vals = [r.get(f"{split}_{key}") for r in rows]
            if all(v not in (None, "") for v in vals):
                a.semilogy(epoch, [float(v) for v in vals], label=split)
        a.set_xlabel("epoch")
        a.set_ylabel(f"{key.replace('_', ' ')} ({unit})")
        if a.get_lines():
            a.legend()
    return save_figure(fig, path, dpi=110)
