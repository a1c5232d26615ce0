"""Normalisers from training-set statistics: per-species E0s, energy shift and scale."""

from __future__ import annotations

import numpy as np

from matml.data.dataset import Dataset

__all__ = [
    "species_counts",
    "fit_e0",
    "fit_scale_shift",
    "fit_model_statistics",
    "fit_property_statistics",
]


def species_counts(dataset: Dataset) -> np.ndarray:
    """Number of atoms of each species in each structure [G, S]."""
    S = len(dataset.species)
    if dataset.lazy:
        return dataset.structures.species_counts()
    return np.stack([np.bincount(s.species, minlength=S) for s in dataset.structures])


def fit_e0(dataset: Dataset) -> np.ndarray:
    """Per-species reference energies by least squares: ``E_g ~ sum_s n_gs E0_s``.

    Where compositions cannot separate two species (always the same ratio) the minimum
    norm solution is taken. A species absent from the data gets E0 = 0.
    """
    counts = species_counts(dataset).astype(np.float64)
    energy = dataset.energies()
    known = np.isfinite(energy)  # structures that hold only other properties: left out
    if not known.any():
        return np.zeros(counts.shape[1])
    counts, energy = counts[known], energy[known]
    e0, *_ = np.linalg.lstsq(counts, energy, rcond=None)
    e0[counts.sum(axis=0) == 0] = 0.0
    return e0


def fit_scale_shift(dataset: Dataset, e0: np.ndarray) -> tuple[float, float]:
    """Shift: mean per-atom energy left after E0s; scale: RMS force component (or the
    spread of per-atom energies where there are no forces). Both in eV."""
    counts = species_counts(dataset)
    energy = dataset.energies()
    known = np.isfinite(energy)
    if not known.any():
        return 1.0, 0.0
    counts, energy = counts[known], energy[known]
    n = counts.sum(axis=1)
    per_atom = (energy - counts @ e0) / n
    shift = float(per_atom.mean())
    f_sq, f_n = dataset.force_squares()
    if f_n:
        scale = float(np.sqrt(f_sq / f_n))
    else:
        scale = float(per_atom.std())
    if not np.isfinite(scale) or scale < 1e-6:
        scale = 1.0
    return scale, shift


def fit_model_statistics(potential, dataset: Dataset, batch_size: int = 8) -> bool:
    """Fill a model's own training statistics (e.g. the descriptor models' feature
    means and scales) from ``dataset``; ``False`` if the model has none."""
    fit = getattr(potential.model, "fit_statistics", None)
    if fit is None:
        return False
    from matml.data.batching import GraphLoader

    fit(GraphLoader(dataset, batch_size))
    return True


def fit_property_statistics(potential, dataset: Dataset) -> None:
    """Set each output head's scale and shift from the values of its property in
    ``dataset`` (see :meth:`matml.models.heads.PropertyHead.fit_statistics`)."""
    for p, head in zip(potential.properties, potential.heads or (), strict=False):
        values, n_atoms = [], []
        for s in dataset.structures:
            if s.properties and p.name in s.properties:
                values.append(s.properties[p.name])
                n_atoms.append(s.n_node)
        head.fit_statistics(values, n_atoms)
