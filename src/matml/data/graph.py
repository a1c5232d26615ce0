"""The ``AtomsGraph`` pytree: a batch of structures as padded arrays of static shape.

Edge ``e`` joins a centre atom ``receivers[e]`` to a neighbour ``senders[e]`` (possibly
a periodic image of it). Its vector, computed in JAX so that forces and stress come out of
one autodiff pass, points from the centre to the neighbour::

    vector[e] = positions[senders[e]] - positions[receivers[e]] + shifts[e] @ cell[g(e)]

Padding: the last graph (``graph_mask == False``) owns every padded node; padded edges join
the last padded node to itself, have zero shift and ``edge_mask == False``. Models must
multiply edge terms by ``edge_mask`` and use :func:`safe_norm` (zero-length padded edges).

.. warning::
    Padded edge vectors are exactly zero. Normalising one by hand (``v /
    jnp.linalg.norm(v)``) has a NaN gradient at zero, and a NaN gradient times a zero
    mask (or through ``jnp.where``) is still NaN: forces and every weight's gradient
    become NaN. Replace padded vectors *before* the non-smooth function
    (``jnp.where(edge_mask[:, None], v, unit_x)``), or divide by :func:`safe_norm`.
    e3nn-jax's ``spherical_harmonics(..., normalize=True)`` is finite at zero (0.21);
    ``tests/data/test_graph.py`` checks all of this.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["AtomsGraph", "edge_vectors", "safe_norm", "volumes"]


class AtomsGraph(NamedTuple):
    """A padded batch of structures (a JAX pytree; every field is an array).

    Shapes: N nodes, E edges, G graphs, all padded. Targets (energy, forces, stress
    and declared properties) are in ``properties`` by name; where a structure lacks
    one it is zero and its ``property_mask`` entry false.
    """

    positions: jax.Array  # [N, 3] Å
    species: jax.Array  # [N] int32, index into the model's species tuple
    cell: jax.Array  # [G, 3, 3] Å, rows are lattice vectors
    pbc: jax.Array  # [G, 3] bool
    senders: jax.Array  # [E] int32, neighbour atom
    receivers: jax.Array  # [E] int32, centre atom
    shifts: jax.Array  # [E, 3] float, integer cell shifts of the neighbour
    node_graph: jax.Array  # [N] int32, graph of each node
    n_node: jax.Array  # [G] int32
    n_edge: jax.Array  # [G] int32
    node_mask: jax.Array  # [N] bool
    edge_mask: jax.Array  # [E] bool
    graph_mask: jax.Array  # [G] bool
    weight: jax.Array  # [G] float, per-structure loss weight
    # targets by name, each padded values [G|N|E, *shape] and a mask [G|N|E] (false
    # where a structure lacks it, and on padding): "energy" [G] eV, "forces" [N, 3]
    # eV/Å and "stress" [G, 3, 3] eV/Å^3 (ASE sign) always, then the declared
    # properties (matml.properties)
    properties: dict = {}
    property_mask: dict = {}

    @property
    def energy(self) -> jax.Array:
        """Reference energies [G], eV (0 where absent: see ``property_mask``)."""
        return self.properties["energy"]

    @property
    def forces(self) -> jax.Array:
        """Reference forces [N, 3], eV/Å."""
        return self.properties["forces"]

    @property
    def stress(self) -> jax.Array:
        """Reference stress [G, 3, 3], eV/Å^3, ASE's sign."""
        return self.properties["stress"]

    @property
    def num_graphs(self) -> int:
        return self.cell.shape[0]

    @property
    def num_nodes(self) -> int:
        return self.positions.shape[0]

    @property
    def num_edges(self) -> int:
        return self.senders.shape[0]

    def edge_graph(self) -> jax.Array:
        """Graph index of each edge [E]."""
        return self.node_graph[self.receivers]

    def cast(self, dtype) -> AtomsGraph:
        """Floating fields in ``dtype``: numpy arrays are cast on the host (so that the
        graph then goes to the device in one transfer); device arrays already in
        ``dtype`` are kept where they are."""
        dtype = np.dtype(dtype)

        def one(a):
            if isinstance(a, jax.Array):
                if jnp.issubdtype(a.dtype, jnp.floating) and a.dtype != dtype:
                    return np.asarray(a).astype(dtype)
                return a
            a = np.asarray(a)
            if np.issubdtype(a.dtype, np.floating):
                return a.astype(dtype, copy=False)
            return a

        return jax.tree_util.tree_map(one, self)

    def to_jax(self, dtype=None) -> AtomsGraph:
        """Device arrays, in one transfer; floating fields cast to ``dtype`` (default:
        JAX's float). A float64 graph must be used under ``matml.potential.precision``.
        """
        dtype = dtype or jnp.asarray(0.0).dtype
        if np.dtype(dtype) == np.float64 and not jax.config.jax_enable_x64:
            with jax.enable_x64(True):
                return jax.device_put(self.cast(dtype))
        return jax.device_put(self.cast(dtype))


def edge_vectors(
    graph: AtomsGraph, positions: jax.Array | None = None, cell: jax.Array | None = None
) -> jax.Array:
    """Edge vectors [E, 3] from centre (receiver) to neighbour (sender), in Å.

    ``positions`` and ``cell`` default to the graph's own; pass strained ones to
    differentiate with respect to them.
    """
    positions = graph.positions if positions is None else positions
    cell = graph.cell if cell is None else cell
    edge_cell = cell[graph.node_graph[graph.receivers]]  # [E, 3, 3]
    offset = jnp.einsum("ei,eij->ej", graph.shifts.astype(positions.dtype), edge_cell)
    return positions[graph.senders] - positions[graph.receivers] + offset


def safe_norm(vectors: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Euclidean norm over the last axis with a finite gradient at zero length.

    Where ``mask`` is false (or the vector is zero) the norm is 1 and its gradient 0, so
    padded edges never produce NaN gradients.
    """
    sq = jnp.sum(vectors**2, axis=-1)
    ok = sq > 0 if mask is None else mask & (sq > 0)
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, sq, 1.0)), 1.0)


def volumes(cell: jax.Array) -> jax.Array:
    """|det| of each cell [G]."""
    return jnp.abs(jnp.linalg.det(cell))
