"""Neighbour lists, AtomsGraph padding and the loader."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111
from ase.neighborlist import neighbor_list as ase_neighbor_list

from matml.data import (
    Buckets,
    Dataset,
    GraphLoader,
    atoms_to_graph,
    edge_vectors,
    neighbor_list,
)
from matml.errors import InputError


@pytest.mark.parametrize(
    "atoms",
    [
        bulk("Si", "diamond", a=5.43),  # small cell: many images
        fcc111("Cu", (2, 2, 3), vacuum=5.0),  # mixed pbc
        Atoms("H3", positions=[[0, 0, 0], [0.9, 0, 0], [0, 1.2, 0.3]]),  # no cell
    ],
)
def test_neighbor_list_matches_ase(atoms):
    cutoff = 4.0
    r, s, shifts = neighbor_list(atoms, cutoff)
    i, j, S = ase_neighbor_list("ijS", atoms, cutoff)
    ours = sorted(zip(r, s, map(tuple, shifts), strict=True))
    ref = sorted(zip(i, j, map(tuple, S), strict=True))
    assert ours == ref


def test_edge_vectors_and_padding():
    a = bulk("Cu", "fcc", a=3.6).repeat((2, 1, 1))
    a.rattle(0.05, seed=0)
    g = atoms_to_graph([a, a], 3.0, ["Cu"])
    assert g.positions.shape[0] % 8 == 0 and g.senders.shape[0] % 64 == 0
    assert g.node_mask.sum() == 4 and g.graph_mask.tolist() == [True, True, False]
    v = np.asarray(edge_vectors(g.to_jax()))
    i, j, d = ase_neighbor_list("ijd", a, 3.0)
    real = np.linalg.norm(v[g.edge_mask], axis=1)
    np.testing.assert_allclose(
        np.sort(real), np.sort(np.concatenate([d, d])), rtol=1e-6
    )
    # padding: edges join the last (padding) node to itself and belong to no real graph
    pad = ~g.edge_mask
    assert np.all(g.senders[pad] == g.positions.shape[0] - 1)
    assert np.all(g.node_graph[~g.node_mask] == 2)


def test_buckets_are_few_and_fit():
    rng = np.random.default_rng(0)
    atoms = [
        bulk("Cu", "fcc", a=3.6, cubic=True).repeat((int(k), 1, 1))
        for k in rng.integers(1, 6, 40)
    ]
    ds = Dataset.from_atoms(atoms, 3.0, ["Cu"])
    loader = GraphLoader(ds, 5, shuffle=True, seed=3)
    shapes = set()
    for epoch in range(3):
        loader.set_epoch(epoch)
        for g in loader:
            shapes.add(g.positions.shape[0:1] + g.senders.shape)
            assert g.node_mask.sum() < g.positions.shape[0]
    assert len(shapes) <= len(loader.buckets.nodes) <= 4
    # reproducible shuffles, different between epochs
    loader.set_epoch(1)
    o1 = loader.order()
    loader.set_epoch(2)
    assert not np.array_equal(o1, loader.order())
    loader.set_epoch(1)
    assert np.array_equal(o1, loader.order())


def test_bucket_pick_grows_when_needed():
    b = Buckets.geometric(10, 100, 100, 1000, 4, n_buckets=3)
    assert b.pick(5, 50) == (b.nodes[-1], b.edges[-1])
    assert b.pick(500, 5000)[0] > 500


def test_singular_periodic_cell_is_an_error():
    a = Atoms("Cu2", positions=[[0, 0, 0], [1, 1, 1]], cell=[[2, 0, 0], [4, 0, 0], [0, 0, 3]],
              pbc=True)  # fmt: skip
    with pytest.raises(InputError, match="field cell: singular cell"):
        Dataset.from_atoms([a], 3.0, name="cells.xyz")


def test_slab_with_no_cell_vector_on_its_open_axis():
    slab = fcc111("Cu", (2, 2, 3), a=3.6, vacuum=None)  # pbc T T F, third vector zero
    assert not slab.cell[2].any()
    r, s, shifts = neighbor_list(slab, 4.0)
    i, j, S = ase_neighbor_list("ijS", slab, 4.0)
    assert sorted(zip(r, s, map(tuple, shifts), strict=True)) == sorted(
        zip(i, j, map(tuple, S), strict=True)
    )
