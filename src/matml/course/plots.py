"""Figures of the Lennard-Jones case (PNG, matplotlib Agg): parity, learned pair energy
and pair force against the analytic curves, the relaxation trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matml._plots import new_figure, parity_panel, pyplot, save_figure
from matml.course.lennard_jones import LJ13_MINIMUM, lj_pair_energy, lj_pair_force

__all__ = ["plot_parity", "plot_pair_curve", "plot_relaxation"]

_COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:red")


def _parity_panel(ax, ref, pred, what, unit, color):
    return parity_panel(
        ax,
        ref,
        pred,
        xlabel=f"LJ {what} ({unit})",
        ylabel=f"predicted {what} ({unit})",
        size=8,
        color=color,
    )


def plot_parity(errors: dict, path) -> Path:
    """One row per model (label -> :class:`~matml.course.LJErrors`): energy per
    cluster and force components, predicted against the analytic LJ values."""
    fig, axes = new_figure(2, len(errors), size=(4.5, 4.2))
    for k, (label, err) in enumerate(errors.items()):
        color = _COLORS[k % len(_COLORS)]
        rmse = _parity_panel(
            axes[k, 0], err.energy_ref, err.energy_pred, "energy", "ε", color
        )
        axes[k, 0].set_title(
            f"{label}\nenergy RMSE {rmse:.3g} ε = "
            f"{100 * rmse / err.energy_range:.2g}% of range",
            fontsize=10,
        )
        rmse = _parity_panel(
            axes[k, 1], err.forces_ref, err.forces_pred, "force", "ε/σ", color
        )
        axes[k, 1].set_title(
            f"{label}\nforce RMSE {rmse:.3g} ε/σ = "
            f"{100 * rmse / err.forces_rms:.2g}% of RMS force",
            fontsize=10,
        )
    fig.suptitle("LJ13 test set: pair network against analytic Lennard-Jones")
    return save_figure(fig, path)


def plot_pair_curve(
    r: np.ndarray,
    learned: dict,
    distances: np.ndarray,
    path,
    *,
    kind: str = "energy",
    epsilon: float = 1.0,
    sigma: float = 1.0,
) -> Path:
    """Learned pair energy (``kind="energy"``) or pair force (``"force"``) against LJ.

    ``learned``: label -> values at ``r``. Top: the curves, with the distances sampled
    by the training set as a grey histogram; bottom: learned minus analytic.
    """
    if kind == "energy":
        exact = np.asarray(lj_pair_energy(r, epsilon, sigma))
        ylabel, unit, ylim = "pair energy φ(r)", "ε", (-1.4 * epsilon, 1.5 * epsilon)
        title = "learned pair energy vs analytic LJ"
    else:
        exact = np.asarray(lj_pair_force(r, epsilon, sigma))
        ylabel, unit = "pair force -dφ/dr", "ε/σ"
        ylim = (-3.5 * epsilon / sigma, 8.0 * epsilon / sigma)
        title = "learned pair force vs analytic LJ (positive = repulsive)"
    fig, (top, bottom) = pyplot().subplots(
        2, 1, figsize=(7, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    lo, hi = float(distances.min()), float(distances.max())
    for ax in (top, bottom):
        ax.axvspan(r.min(), lo, color="0.92", lw=0)
        ax.axvspan(hi, r.max(), color="0.92", lw=0)
        ax.axhline(0.0, color="0.5", lw=0.6)
    hist_ax = top.twinx()
    hist_ax.hist(distances, bins=80, color="0.75", alpha=0.6)
    hist_ax.set_yticks([])
    hist_ax.set_ylabel("pair distances in the training set", color="0.45")
    top.set_zorder(hist_ax.get_zorder() + 1)
    top.patch.set_visible(False)
    top.plot(r, exact, "k-", lw=2.2, label="analytic LJ")
    for k, (label, values) in enumerate(learned.items()):
        color = _COLORS[k % len(_COLORS)]
        top.plot(r, values, "--", color=color, lw=1.6, label=label)
        bottom.plot(r, values - exact, "-", color=color, lw=1.4, label=label)
    top.set_ylim(*ylim)
    top.set_ylabel(f"{ylabel} ({unit})")
    top.set_title(title)
    top.legend(loc="upper right", fontsize=9)
    # error scale where 98% of the training distances lie (the repulsive wall below
    # the 1st percentile is sampled too thinly to set the scale)
    p1, p99 = np.percentile(distances, [1, 99])
    err = np.concatenate(
        [np.abs(v - exact)[(r >= p1) & (r <= p99)] for v in learned.values()]
    )
    lim = float(np.max(err)) * 1.2 if err.size else 1.0
    bottom.set_ylim(-lim, lim)
    bottom.set_ylabel(f"learned − LJ ({unit})")
    bottom.set_xlabel("r (σ)   (grey bands: no training data)")
    bottom.set_xlim(r.min(), r.max())
    return save_figure(fig, path)


def plot_relaxation(traces: dict, path, minimum: float = LJ13_MINIMUM) -> Path:
    """Energy above ``minimum`` (log scale) against the step, one line per start."""
    fig, axes = new_figure(size=(7.0, 4.5))
    ax = axes[0, 0]
    for label, energies in traces.items():
        gap = np.maximum(np.asarray(energies) - minimum, 1e-10)
        ax.semilogy(np.arange(1, len(gap) + 1), gap, lw=1.3, label=label)
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("E − E_min (ε)")
    ax.set_title(
        "relaxing LJ13 with optax (SGD + momentum) on autodiff forces\n"
        f"E_min = {minimum:.6f} ε (floor 1e-10: converged to float64 precision)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return save_figure(fig, path)
