"""Data layer: neighbour lists, the ``AtomsGraph`` pytree, padding and batching."""

from matml.data.batching import (
    EDGE_MULTIPLE,
    NODE_MULTIPLE,
    Buckets,
    GraphLoader,
    atoms_to_graph,
    bucket,
    collate,
    round_up,
)
from matml.data.dataset import Dataset, Structure, species_index
from matml.data.graph import AtomsGraph, edge_vectors, safe_norm, volumes
from matml.data.neighbors import neighbor_list

__all__ = [
    "EDGE_MULTIPLE",
    "NODE_MULTIPLE",
    "AtomsGraph",
    "Buckets",
    "Dataset",
    "GraphLoader",
    "Structure",
    "atoms_to_graph",
    "bucket",
    "collate",
    "edge_vectors",
    "neighbor_list",
    "round_up",
    "safe_norm",
    "species_index",
    "volumes",
]
