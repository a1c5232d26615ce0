"""Shared network pieces: radial bases, smooth cutoffs, MLPs, constants."""

from matml.nn.constant import Constant
from matml.nn.mlp import MLP
from matml.nn.radial import bessel_basis, polynomial_cutoff

__all__ = ["Constant", "MLP", "bessel_basis", "polynomial_cutoff"]
