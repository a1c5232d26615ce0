"""Moment-invariant descriptors of atomic environments (MILAD-style).

Geometric and 3D Zernike moments of each atom's neighbour density, rotation invariants
of degree 1 to 4 by Clebsch-Gordan coupling (e3nn-jax), smooth cutoffs, species
weights, and reconstruction of an environment from its moments. Jit-compiled and
differentiable with respect to positions and cell.
"""

from matml.descriptors._api import MomentInvariants
from matml.descriptors._coupling import InvariantTables, candidate_tables
from matml.descriptors._cutoff import cutoff_function
from matml.descriptors._geometric import geometric_moments, monomial_exponents
from matml.descriptors._invariants import invariants
from matml.descriptors._memory import reuse_freed_memory
from matml.descriptors._moments import environment_moments
from matml.descriptors._radial import n_per_l, radial_values
from matml.descriptors._reconstruct import (
    ball_grid,
    cluster_moments,
    gaussian_density,
    recover_positions,
    synthesize_density,
)
from matml.descriptors._selection import independent_tables
from matml.descriptors._zernike import (
    geometric_to_zernike,
    zernike_functions,
    zernike_indices,
    zernike_radial,
)

__all__ = [
    "ball_grid",
    "cluster_moments",
    "gaussian_density",
    "recover_positions",
    "synthesize_density",
    "InvariantTables",
    "MomentInvariants",
    "candidate_tables",
    "cutoff_function",
    "environment_moments",
    "geometric_moments",
    "geometric_to_zernike",
    "independent_tables",
    "invariants",
    "monomial_exponents",
    "n_per_l",
    "radial_values",
    "reuse_freed_memory",
    "zernike_functions",
    "zernike_indices",
    "zernike_radial",
]
