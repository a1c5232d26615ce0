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
    assert independent_tables(n_per_l(3), 4).counts() == {1: 2, 2: 8, 3: 21, 4: 67}


def test_selection_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("MATML_CACHE_DIR", str(tmp_path))
    first = independent_tables.__wrapped__(n_per_l(2), 3)
    files = list((tmp_path / "descriptors").glob("*.npz"))
    assert len(files) == 1
    again = independent_tables.__wrapped__(n_per_l(2), 3)
    assert again.labels == first.labels
    np.testing.assert_array_equal(again.rows, first.rows)
    np.testing.assert_array_equal(again.spec, first.spec)


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


@pytest.mark.parametrize("order", [3, 4])
def test_every_invariant_equals_its_definition(order):
    """Each feature, recomputed from its ``spec`` with e3nn's Clebsch-Gordan arrays."""
    import e3nn_jax as e3nn

    from matml.descriptors._coupling import block_index

    npl = n_per_l(order)
    t = independent_tables(npl, 4)
    k = sum(n * (2 * l + 1) for l, n in enumerate(npl))
    c = np.random.default_rng(2).normal(size=(3, k))
    got = invariants(c, t, xp=np)
    bi = block_index(npl)
    lk = {v: key for key, v in bi.items()}
    off, start = {}, 0
    for l, n in enumerate(npl):
        for kk in range(n):
            off[(l, kk)] = start + kk * (2 * l + 1)
        start += n * (2 * l + 1)

    def block(x, b):
        l, kk = lk[b]
        return x[off[(l, kk)] : off[(l, kk)] + 2 * l + 1]

    def couple(x, a, b, L):
        cg = np.asarray(e3nn.clebsch_gordan(lk[a][0], lk[b][0], L))
        return np.einsum("i,j,ijk->k", block(x, a), block(x, b), cg)

    for s, (deg, L, a, b, cc, d) in enumerate(t.spec):
        for x, value in zip(c, got[:, s], strict=True):
            if deg == 1:
                ref = block(x, a)[0]
            elif deg == 2:
                ref = block(x, a) @ block(x, b)
            elif deg == 3:
                ref = couple(x, a, b, L) @ block(x, cc)
            else:
                ref = couple(x, a, b, L) @ couple(x, cc, d, L)
            assert abs(value - ref) < 1e-12 * max(1.0, abs(ref)), t.labels[s]


def test_order_seven_output_has_every_selected_feature():
    npl = n_per_l(7)
    t = independent_tables(npl, 4)
    assert t.counts() == {1: 4, 2: 40, 3: 425, 4: 6207}
    k = sum(n * (2 * l + 1) for l, n in enumerate(npl))
    v = invariants(np.random.default_rng(0).normal(size=(2, k)), t, xp=np)
    assert v.shape == (2, 6676)
    assert np.all(np.abs(v).max(axis=0) > 0)


def test_a_cache_file_of_another_layout_is_not_trusted(tmp_path, monkeypatch):
    from matml.descriptors import _selection

    monkeypatch.setenv("MATML_CACHE_DIR", str(tmp_path))
    npl = n_per_l(2)
    good = independent_tables.__wrapped__(npl, 4)
    (path,) = (tmp_path / "descriptors").glob("*.npz")
    stale = good.subset(np.ones(good.n_features, bool))
    object.__setattr__(stale, "rows", stale.rows + 10_000)  # rows past the layout
    _selection._save(path, stale)
    again = independent_tables.__wrapped__(npl, 4)
    np.testing.assert_array_equal(again.rows, good.rows)


def test_memory_tuning_can_be_turned_off(monkeypatch):
    from matml.descriptors._memory import reuse_freed_memory

    monkeypatch.setenv("MATML_MALLOC_TUNING", "0")
    assert reuse_freed_memory.__wrapped__() is False
    monkeypatch.setenv("MATML_MALLOC_TUNING", "1")
    import sys

    assert reuse_freed_memory.__wrapped__() is (sys.platform == "linux")


def test_building_a_descriptor_leaves_the_allocator_alone():
    from matml.descriptors import MomentInvariants, reuse_freed_memory

    reuse_freed_memory.cache_clear()
    MomentInvariants(cutoff=4.0, max_order=2, max_degree=2)
    assert reuse_freed_memory.cache_info().currsize == 0  # opt-in only


def test_tables_hash_and_compare_by_value():
    a = independent_tables(n_per_l(2), 3)
    b = candidate_tables(n_per_l(2), 3).subset(
        np.isin(candidate_tables(n_per_l(2), 3).rows, a.rows)
    )
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != independent_tables(n_per_l(2), 4)
    assert a != a.subset(np.arange(a.n_features) > 0)
