"""Forces and stress from one autodiff pass through positions and a symmetric strain.

For structure g with strain eps (symmetrised), positions r -> r (1 + eps) and cell
h -> h (1 + eps). Then ``F = -dE/dr`` and ``sigma = (1/V) dE/d(eps)`` at eps = 0, which
is ASE's stress (tensile positive). Non-periodic structures get zero stress.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from matml.data.graph import AtomsGraph, edge_vectors, volumes

__all__ = ["Predictions", "predict"]


class Predictions(NamedTuple):
    energy: jax.Array  # [G] eV
    forces: jax.Array  # [N, 3] eV/Å
    stress: jax.Array  # [G, 3, 3] eV/Å^3
    node_energies: jax.Array  # [N] eV
    # declared properties (matml.properties) by name: [G|N|E, *shape], file units
    properties: dict = {}


def predict(
    potential, graph: AtomsGraph, *, stress: bool = True, forces: bool = True
) -> Predictions:
    """Energy, forces, stress and per-atom energies of every structure in ``graph``,
    and the values of the potential's declared properties (from the same pass).

    Pure and jittable: call it inside ``jax.jit`` (with the potential split by nnx).
    With ``forces=False`` and ``stress=False`` there is no gradient pass (forces and
    stress are zero): what a model trained on other properties alone needs.
    """
    G = graph.num_graphs
    dtype = graph.positions.dtype
    if not forces and not stress:
        if hasattr(potential, "outputs"):
            node_e, props = potential.outputs(graph, edge_vectors(graph))
        else:
            node_e, props = potential.node_energies(graph, edge_vectors(graph)), {}
        energy = jax.ops.segment_sum(node_e, graph.node_graph, G)
        zeros = jnp.zeros_like(graph.positions)
        return Predictions(energy, zeros, jnp.zeros_like(graph.cell), node_e, props)

    def total_energy(positions, strain):
        sym = 0.5 * (strain + jnp.swapaxes(strain, 1, 2))
        pos = positions + jnp.einsum("ni,nij->nj", positions, sym[graph.node_graph])
        cell = graph.cell + jnp.einsum("gki,gij->gkj", graph.cell, sym)
        vectors = edge_vectors(graph, pos, cell)
        if hasattr(potential, "outputs"):
            node_e, props = potential.outputs(graph, vectors)
        else:
            node_e, props = potential.node_energies(graph, vectors), {}
        energy = jax.ops.segment_sum(node_e, graph.node_graph, G)
        return jnp.sum(energy), (energy, node_e, props)

    # zeros like the graph's cell, not made from nothing: under shard_map a value that
    # does not vary across devices would get its gradient summed over all of them
    strain = jnp.zeros_like(graph.cell, dtype)
    argnums = (0, 1) if stress else 0
    grads, (energy, node_e, props) = jax.grad(
        total_energy, argnums=argnums, has_aux=True
    )(graph.positions, strain)
    if stress:
        g_pos, g_strain = grads
        periodic = jnp.all(graph.pbc, axis=1) & graph.graph_mask
        vol = jnp.where(periodic, volumes(graph.cell), 1.0)
        sigma = jnp.where(periodic[:, None, None], g_strain / vol[:, None, None], 0.0)
    else:
        g_pos, sigma = grads, jnp.zeros((G, 3, 3), dtype)
    forces = jnp.where(graph.node_mask[:, None], -g_pos, 0.0)
    return Predictions(energy, forces, sigma, node_e, props)
