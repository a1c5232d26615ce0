"""Figures of a trained potential: parity plots and learning curves (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matml._plots import new_figure, parity_panel, save_figure

__all__ = ["parity_plot", "learning_curve", "curve_names"]


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
    from matml.properties import BUILTIN

    ev = evaluation
    builtin = {"energy": (ev.energy_ref, ev.energy_pred, "energy"),
               "forces": (ev.forces_ref, ev.forces_pred, "forces"),
               "stress": (ev.stress_ref, ev.stress_pred, "stress (Voigt)")}  # fmt: skip
    panels = []
    for p in BUILTIN:
        ref, pred, label = builtin[p.name]
        if len(ref):
            panels.append((ref, pred, label, p.unit, p.unit_factor))
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


def _has_column(rows: list[dict], key: str) -> bool:
    """Whether every row of ``metrics.csv`` has a number under ``key``."""
    return bool(rows) and all(r.get(key) not in (None, "") for r in rows)


def curve_names(rows: list[dict]) -> list[str]:
    """The targets with a column of numbers in ``rows`` (``metrics.csv``): energy,
    forces, stress, then the declared properties by name."""
    from matml.properties import BUILTIN

    names = [p.name for p in BUILTIN]
    names += sorted(
        k[len("valid_") : -len("_rmse")]
        for k in (rows[0] if rows else {})
        if k.startswith("valid_") and k.endswith("_rmse")
        and k[len("valid_") : -len("_rmse")] not in names
    )  # fmt: skip
    return [
        n
        for n in names
        if _has_column(rows, f"valid_{n}_rmse") or _has_column(rows, f"train_{n}_rmse")
    ]


def learning_curve(rows: list[dict], path) -> Path:
    """Training and validation RMSE against epoch: one panel per target of
    :func:`curve_names` (energy and forces, empty, when there is none)."""
    from matml.properties import BUILTIN

    units = {p.name: p.unit for p in BUILTIN}
    names = curve_names(rows) or ["energy", "forces"]
    epoch = [int(r["epoch"]) for r in rows]
    fig, axes = new_figure(len(names), 1, size=(4.5, 3.6))
    for a, name in zip(axes[0], names, strict=True):
        for split in ("train", "valid"):
            key = f"{split}_{name}_rmse"
            if _has_column(rows, key):
                a.semilogy(epoch, [float(r[key]) for r in rows], label=split)
        a.set_xlabel("epoch")
        a.set_ylabel(f"{name} rmse ({units.get(name, 'file units')})")
        if a.get_lines():
            a.legend()
    return save_figure(fig, path, dpi=110)
