"""E(3)-equivariant layers on e3nn-jax (irreps algebra) and flax nnx (parameters).

Node features are kept as *blocks*: a tuple of arrays, one per entry ``mul x ir`` of an
``e3nn.Irreps``, each ``[N, 2l + 1, mul]``, channels last (e3nn-jax's ``IrrepsArray``
chunks are ``[N, mul, 2l + 1]``). Channels last makes every linear layer a plain matrix
product and puts the widest axis innermost, where XLA's CPU backend vectorises; the
convolution gathers and scatters once, on one flat array (that backend runs gathers and
scatters element by element). e3nn-jax
decides which couplings exist and supplies the Clebsch-Gordan coefficients, the
spherical harmonics and the symmetric product bases.

Layers, one per file: :class:`SpeciesEmbedding`, :class:`RadialEmbedding`,
:func:`edge_harmonics`, :class:`IrrepsLinear` (self-interaction and linear mixing,
optionally per species), :class:`Convolution` (channel-wise tensor product of node
features with edge harmonics, weighted per path by a radial MLP, summed over neighbours
and divided by the average neighbour count), :class:`Gate`, and
:class:`SymmetricContraction` (MACE's higher body-order product basis).
"""

from matml.nn.equivariant.blocks import (
    Blocks,
    blocks_from_irreps_array,
    blocks_to_irreps_array,
    concat_flat,
    split_flat,
)
from matml.nn.equivariant.convolution import Convolution
from matml.nn.equivariant.embedding import SpeciesEmbedding
from matml.nn.equivariant.gate import Gate
from matml.nn.equivariant.harmonics import edge_harmonics
from matml.nn.equivariant.linear import IrrepsLinear
from matml.nn.equivariant.product import SymmetricContraction
from matml.nn.equivariant.radial import RadialEmbedding, RadialTable

__all__ = [
    "Blocks",
    "Convolution",
    "Gate",
    "IrrepsLinear",
    "RadialEmbedding",
    "RadialTable",
    "SpeciesEmbedding",
    "SymmetricContraction",
    "blocks_from_irreps_array",
    "blocks_to_irreps_array",
    "concat_flat",
    "edge_harmonics",
    "split_flat",
]
