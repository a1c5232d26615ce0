"""The course's worked cases, as library code (examples/ runs them end to end).

:mod:`matml.course.lennard_jones`: the analytic Lennard-Jones cluster (energy, autodiff
forces, relaxation with optax, a rattled training set); :mod:`matml.course.pair_fit`: a
pair network trained on it (energies only, then energies + forces), its errors, the
learned pair energy and force; :mod:`matml.course.plots`: the figures.
"""

from matml.course.lennard_jones import (
    LJ13_MINIMUM,
    Relaxation,
    icosahedron13,
    lj_energy,
    lj_forces,
    lj_pair_energy,
    lj_pair_force,
    random_cluster,
    rattled_structures,
    relax,
)
from matml.course.pair_fit import (
    LJErrors,
    fit_pair_network,
    learned_pair_curve,
    lj_errors,
    pair_distances,
)

__all__ = [
    "LJ13_MINIMUM",
    "LJErrors",
    "Relaxation",
    "fit_pair_network",
    "icosahedron13",
    "learned_pair_curve",
    "lj_energy",
    "lj_errors",
    "lj_forces",
    "lj_pair_energy",
    "lj_pair_force",
    "pair_distances",
    "random_cluster",
    "rattled_structures",
    "relax",
]
