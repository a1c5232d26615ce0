"""Independent invariant sets, and the Pozdnyakov et al. (2020) 3-body degenerate pair."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from matml.descriptors import (
    MomentInvariants,
    candidate_tables,
    cluster_moments,
    independent_tables,
    invariants,
    n_per_l,
)


@pytest.mark.parametrize("order", [2, 3])
def test_selected_invariants_are_independent_and_maximal(order):
    npl = n_per_l(order)
    sel = independent_tables(npl, 4, use_disk=False)
    cand = candidate_tables(npl, 4)
    k = sum(n * (2 * l + 1) for l, n in enumerate(npl))
    c = np.random.default_rng(5).normal(size=(400, k))
    v_sel = invariants(c, sel, xp=np)
    v_cand = invariants(c, cand, xp=np)

    def rank(v):
        # zero couplings (e.g. the cross product of a vector with itself) are dropped
        # before normalising, or their rounding noise would count as a direction
        n = np.linalg.norm(v, axis=0)
        v = v[:, n > 1e-8 * np.median(n)]
        return np.linalg.matrix_rank(v / np.linalg.norm(v, axis=0), tol=1e-8)

    rank_sel, rank_cand = rank(v_sel), rank(v_cand)
    assert rank_sel == sel.n_features == rank_cand
    assert sel.n_features < cand.n_features


def test_counts_of_small_orders():
    assert independent_tables(n_per_l(2), 4).counts() == {1: 2, 2: 5, 3: 10, 4: 19}
    assert independent_tables(n_per_l(3), 4).counts() == {1: 2, 2: 8, 3: 21, 4: 68}


def test_selection_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("MATML_CACHE_DIR", str(tmp_path))
    first = independent_tables.__wrapped__(n_per_l(2), 3)
    files = list((tmp_path / "descriptors").glob("*.npz"))
    assert len(files) == 1
    again = independent_tables.__wrapped__(n_per_l(2), 3)
    assert again.labels == first.labels
    for L in first.deg3:
        np.testing.assert_array_equal(again.deg3[L], first.deg3[L])


def degenerate_pair(r=0.6):
    """Two environments with identical 3-body (power spectrum) correlations.

    The construction follows Pozdnyakov et al., PRL 125, 166001 (2020): all neighbours at
    the same distance r from the centre, so the power spectrum sees only the multiset of
    angles between pairs of neighbours. Four neighbours lie on the equator at azimuths
    k * 45 deg with k in {0, 1, 2, 5} (X+) or {0, 1, 3, 4} (X-), a homometric pair of
    8-gon subsets (same multiset of angular separations, not related by any rotation or
    reflection); a fifth neighbour sits on the pole, at 90 deg from all of them in both.
    """

    def env(ks):
        ang = np.array(ks) * np.pi / 4
        ring = np.stack([np.cos(ang), np.sin(ang), np.zeros(4)], 1)
        return r * np.vstack([ring, [[0.0, 0.0, 1.0]]])

    return env([0, 1, 2, 5]), env([0, 1, 3, 4])


def test_pozdnyakov_pair_needs_degree_three():
    plus, minus = degenerate_pair()

    # same multiset of pair angles by construction
    def angles(x):
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        g = u @ u.T
        return np.sort(g[np.triu_indices(len(x), 1)])

    np.testing.assert_allclose(angles(plus), angles(minus), atol=1e-14)
    npl = n_per_l(4)
    t2 = independent_tables(npl, 2)
    t3 = independent_tables(npl, 3)
    f = {}
    for name, x in (("+", plus), ("-", minus)):
        c = cluster_moments(jnp.asarray(x), None, 4)[None]
        f[name] = (
            invariants(np.asarray(c), t2, xp=np)[0],
            invariants(np.asarray(c), t3, xp=np)[0],
        )
    p2, m2 = f["+"][0], f["-"][0]
    np.testing.assert_allclose(p2, m2, atol=1e-12 * np.abs(p2).max())
    d3 = np.abs(f["+"][1] - f["-"][1])[t2.n_features :]
    assert d3.max() > 1e-3 * np.abs(f["+"][1]).max()


def test_pozdnyakov_pair_through_the_descriptor():
    plus, minus = degenerate_pair(r=2.0)
    rows = []
    for env in (plus, minus):
        atoms = Atoms("Si6", positions=np.vstack([[0.0, 0.0, 0.0], env]))
        d2 = MomentInvariants(cutoff=3.0, max_order=4, max_degree=2)
        d3 = MomentInvariants(cutoff=3.0, max_order=4, max_degree=3)
        rows.append((d2(atoms)[0], d3(atoms)[0]))
    np.testing.assert_allclose(rows[0][0], rows[1][0], atol=1e-12)
    assert np.abs(rows[0][1] - rows[1][1]).max() > 1e-6


def test_degree4_gram_path_equals_the_definition():
    """<D_p, D_q> summed over M, pair by pair, against the fast evaluation."""
    from matml.descriptors._invariants import coupled_pairs, moment_blocks

    npl = n_per_l(4)
    t = independent_tables(npl, 4)
    k = sum(n * (2 * l + 1) for l, n in enumerate(npl))
    c = np.random.default_rng(2).normal(size=(5, k))
    got = invariants(c, t, xp=np)
    d = coupled_pairs(moment_blocks(c, npl, np), npl, set(range(5)), np)
    ref = np.concatenate(
        [
            np.sum(d[L][:, pq[:, 0]] * d[L][:, pq[:, 1]], axis=0).T
            for L, pq in t.deg4.items()
            if len(pq)
        ],
        axis=1,
    )
    np.testing.assert_allclose(got[:, t.n_features - ref.shape[1] :], ref, atol=1e-12)
