"""Shared network pieces: radial bases, smooth cutoffs, MLPs."""

from matml.nn.mlp import MLP
from matml.nn.radial import bessel_basis, polynomial_cutoff

__all__ = ["MLP", "bessel_basis", "polynomial_cutoff"]
