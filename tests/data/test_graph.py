"""Neighbour lists, AtomsGraph padding and the loader."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111
from ase.neighborlist import neighbor_list as ase_neighbor_list

from matml.data import (
    Buckets,
    Dataset,
    GraphLoader,
    VerletList,
    atoms_to_graph,
    edge_vectors,
    neighbor_list,
    safe_norm,
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


def test_verlet_list_gives_the_pairs_of_a_fresh_list_and_rebuilds_rarely():
    """A random walk of a small Si cell (many images) with steps of 0.03 Å, a cell
    change halfway: at every step the reused list's pairs and distances are those of
    a list built afresh, and vesin ran only when an atom had moved skin / 2."""
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    rng = np.random.default_rng(0)
    nl = VerletList(cutoff=4.0, skin=0.5)
    for step in range(60):
        atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
        if step == 30:
            atoms.set_cell(atoms.cell[:] * 1.01, scale_atoms=True)
        r, s, shifts, d = nl.update(atoms)
        assert np.all(np.diff(r) >= 0)  # sorted by centre atom
        ref = neighbor_list(atoms, 4.0)
        assert sorted(zip(r, s, map(tuple, shifts), strict=True)) == sorted(
            zip(*ref[:2], map(tuple, ref[2]), strict=True)
        )
        vec = atoms.positions[s] - atoms.positions[r] + shifts @ atoms.cell[:]
        np.testing.assert_allclose(d, np.linalg.norm(vec, axis=1), rtol=1e-12)
    # about 0.03 * sqrt(3 * steps) Å of walk per atom: a handful of builds, not 60
    assert 3 <= nl.builds <= 20
    with pytest.raises(ValueError, match="skin"):
        VerletList(4.0, skin=-1.0)


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


def test_padded_edges_are_zero_vectors_and_normalising_them_gives_nan_gradients():
    """The warning of data/graph.py: padded edges are zero vectors; normalising them
    by hand gives NaN gradients (through a zero mask too) unless they are replaced
    first; matml's safe_norm and e3nn-jax's spherical harmonics stay finite."""
    import e3nn_jax as e3nn
    import jax

    from matml.data import atoms_to_graph, edge_vectors

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=1)
    g = atoms_to_graph([atoms], 3.0, ["Cu"], n_edge=64).to_jax(jnp.float32)
    mask = g.edge_mask
    assert (~np.asarray(mask)).any()
    assert np.all(np.asarray(edge_vectors(g))[~np.asarray(mask)] == 0.0)
    weights = jnp.arange(1.0, 4.0)

    def energy(positions, how):
        vec = edge_vectors(g, positions)
        if how == "replaced":
            vec = jnp.where(mask[:, None], vec, jnp.array([1.0, 0.0, 0.0]))
        if how == "safe_norm":
            unit = vec / safe_norm(vec, mask)[:, None]
        elif how == "e3nn":
            unit = e3nn.spherical_harmonics(
                "1o", vec, normalize=True, normalization="norm"
            ).array
        else:
            unit = vec / jnp.linalg.norm(vec, axis=1, keepdims=True)
        r = jnp.sum(vec**2, axis=1)
        return jnp.sum(jnp.where(mask, (unit @ weights) * r, 0.0))

    with jax.debug_nans(False), jax.debug_infs(False):
        bad = jax.grad(energy)(g.positions, "plain")
    assert np.isnan(np.asarray(bad)).any()
    ref = jax.grad(energy)(g.positions, "replaced")
    assert np.isfinite(np.asarray(ref)).all() and np.abs(np.asarray(ref)).max() > 0
    for how in ("safe_norm", "e3nn"):
        np.testing.assert_allclose(jax.grad(energy)(g.positions, how), ref, atol=1e-5)
