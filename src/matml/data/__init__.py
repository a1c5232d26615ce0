"""Data layer: neighbour lists, the ``AtomsGraph`` pytree, padding and batching."""

from matml.data.batching import (
    EDGE_MULTIPLE,
    NODE_MULTIPLE,
    Buckets,
    GraphLoader,
    ShardedLoader,
    atoms_to_graph,
    bucket,
    collate,
    prefetch,
    round_up,
)
from matml.data.dataset import Dataset, Structure, species_index
from matml.data.graph import AtomsGraph, edge_vectors, safe_norm, volumes
from matml.data.neighbors import VerletList, neighbor_list

__all__ = [
    "EDGE_MULTIPLE",
    "NODE_MULTIPLE",
    "AtomsGraph",
    "VerletList",
    "Buckets",
    "Dataset",
    "GraphLoader",
    "ShardedLoader",
    "Structure",
    "atoms_to_graph",
    "bucket",
    "collate",
    "edge_vectors",
    "neighbor_list",
    "prefetch",
    "round_up",
    "safe_norm",
    "species_index",
    "volumes",
]
