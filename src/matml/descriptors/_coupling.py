"""Rotation invariants of moment blocks by Clebsch-Gordan coupling, degree 1 to 4.

The moments of one environment form blocks c_b = c_{(l, k)}, one [2l + 1] vector per
angular momentum l and radial index k (k = (n - l) / 2 for Zernike moments). Under a
rotation R each block turns with the real Wigner matrix D^l(R), under the inversion
x -> -x it gets the sign (-1)^l. Blocks are ordered by (l, k). Invariants:

* degree 1: c_b for l = 0;
* degree 2 (power spectrum, (D^l x D^l)^0): sum_m c_a,m c_b,m for l_a = l_b, a <= b;
* degree 3 (bispectrum): <(c_a x c_b)^L, c_c> for a <= b <= c, L = l_c, the coupled
  pair (c_a x c_b)^L_M = sum C^{l_a l_b L}_{m_a m_b M} c_a,m_a c_b,m_b;
* degree 4: <(c_a x c_b)^L, (c_c x c_d)^L> for a <= b <= c <= d, every L allowed in
  both pairs (the (ab)(cd) pairing: for distinct blocks its invariants are an
  orthogonal basis of all the invariants of the four, the other two pairings are linear
  combinations of them).

C are e3nn-jax's real Clebsch-Gordan coefficients (``e3nn.clebsch_gordan``, each
[2l1+1, 2l2+1, 2L+1] array of unit Frobenius norm), so every invariant is a polynomial in
the real moments, exactly invariant under rotations. Only products with l_a + l_b (+ l_c
(+ l_d)) even are kept: those are also invariant under inversion, so **a structure and
its mirror image have identical descriptors** (the odd, pseudoscalar couplings that would
tell them apart are left out on purpose). Intermediate L is capped at lmax.

This module lays out the *raw* rows the evaluator (:mod:`matml.descriptors._invariants`)
computes, a superset of the candidates, in dense rectangular pieces that need no
gathers; :class:`InvariantTables` picks rows of it. Selection of a linearly independent
subset of the candidates is in :mod:`matml.descriptors._selection`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import e3nn_jax as e3nn
import numpy as np

__all__ = [
    "InvariantTables",
    "Plan",
    "plan",
    "pair_ls",
    "coupling_weights",
    "candidate_tables",
]


@cache
def coupling_weights(la: int, lb: int, lmax: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Stacked CG [2la+1, 2lb+1, sum_L (2L+1)] for |la-lb| <= L <= min(la+lb, lmax)."""
    ls = tuple(range(abs(la - lb), min(la + lb, lmax) + 1))
    w = np.concatenate([e3nn.clebsch_gordan(la, lb, L) for L in ls], axis=-1)
    return w, ls


@dataclass(frozen=True)
class Plan:
    """Dense pieces of the raw rows, in raw order (hashable: tuples only).

    Attributes:
        n_per_l: radial channels per l.
        max_degree: 1 to 4.
        pairs: (la, lb), la <= lb, whose coupled arrays D_{la lb} [S, n_la, n_lb] are
            needed (S = sum of 2L+1 over the allowed L).
        deg3: (la, lb, L) pieces <D^L_{la lb}, c_L> -> rows (ka, kb, kc).
        deg4: (L, row pairs, column pairs, rectangles): X (Y) stacks the rows (ka, kb)
            of D^L of the row (column) pairs; each rectangle (r0, r1, c0, c1) gives the
            rows <X_p, Y_q> for r0 <= p < r1, c0 <= q < c1.
        size: number of raw rows.
    """

    n_per_l: tuple[int, ...]
    max_degree: int
    pairs: tuple[tuple[int, int], ...]
    deg3: tuple[tuple[int, int, int], ...]
    deg4: tuple
    size: int


def _allowed(la: int, lb: int, lmax: int) -> tuple[int, ...]:
    return coupling_weights(la, lb, lmax)[1]


def _pair_rows(la, lb, n_per_l, L=0):
    """Rows (la, ka, lb, kb) of D^L_{la lb} in the degree-4 stacks.

    ka <= kb if la = lb ((kb, ka) is the same coupling up to sign), and not ka = kb for
    odd L (a block coupled with itself to odd L is zero).
    """
    return [
        (la, ka, lb, kb)
        for ka in range(n_per_l[la])
        for kb in range(ka + (L % 2) if la == lb else 0, n_per_l[lb])
    ]


@cache
def plan(n_per_l: tuple[int, ...], max_degree: int) -> Plan:
    """The raw layout for ``n_per_l`` and ``max_degree``.

    Degree 4: for each L and parity of l_a + l_b, the rows (a, b) are grouped by l_b;
    the group l_b = g is multiplied with the columns (c, d) of l_c >= g, one rectangle,
    so every candidate (b <= c) is computed once, with little waste.
    """
    lmax = len(n_per_l) - 1
    n0 = n_per_l[0] if max_degree >= 1 else 0
    size = n0
    if max_degree >= 2:
        size += sum(n * n for n in n_per_l)
    deg3, deg4, pairs = [], [], set()
    if max_degree >= 3:
        for la in range(lmax + 1):
            for lb in range(la, lmax + 1):
                for L in range(lb, min(la + lb, lmax) + 1):
                    if (la + lb + L) % 2 == 0:
                        deg3.append((la, lb, L))
                        pairs.add((la, lb))
                        size += n_per_l[la] * n_per_l[lb] * n_per_l[L]
    if max_degree >= 4:
        for L in range(lmax + 1):
            for par in (0, 1):
                ps = [
                    (la, lb)
                    for la in range(lmax + 1)
                    for lb in range(la, lmax + 1)
                    if (la + lb) % 2 == par
                    and L in _allowed(la, lb, lmax)
                    and _pair_rows(la, lb, n_per_l, L)
                ]
                if not ps:
                    continue
                rows = tuple(sorted(ps, key=lambda q: (q[1], q[0])))
                cols = tuple(sorted(ps))
                width = [len(_pair_rows(a, b, n_per_l, L)) for a, b in rows]
                cwidth = [len(_pair_rows(a, b, n_per_l, L)) for a, b in cols]
                ncol = sum(cwidth)
                rects = []
                for g in sorted({lb for _, lb in ps}):
                    r0 = sum(w for (_, b), w in zip(rows, width, strict=True) if b < g)
                    r1 = r0 + sum(
                        w for (_, b), w in zip(rows, width, strict=True) if b == g
                    )
                    c0 = sum(w for (a, _), w in zip(cols, cwidth, strict=True) if a < g)
                    c1 = sum(
                        w for (a, _), w in zip(cols, cwidth, strict=True) if a <= g
                    )
                    # columns with l_c = g (b <= c depends on k: some rows are dropped)
                    # and with l_c > g (b < c always: every row is a candidate)
                    for lo, hi in ((c0, c1), (c1, ncol)):
                        if r1 > r0 and hi > lo:
                            rects.append((r0, r1, lo, hi))
                            size += (r1 - r0) * (hi - lo)
                deg4.append((L, rows, cols, tuple(rects)))
                pairs.update(ps)
    return Plan(
        tuple(n_per_l), max_degree, tuple(sorted(pairs)), tuple(deg3), tuple(deg4), size
    )


@cache
def pair_ls(p: Plan) -> dict[tuple[int, int], tuple[int, ...]]:
    """For each pair (la, lb) of ``p``, the L its degree-3 and degree-4 pieces read."""
    need: dict[tuple[int, int], set[int]] = {pair: set() for pair in p.pairs}
    for la, lb, L in p.deg3:
        need[la, lb].add(L)
    for L, rows, cols, _ in p.deg4:
        for pair in rows + cols:
            need[pair].add(L)
    return {pair: tuple(sorted(ls)) for pair, ls in need.items()}


@dataclass(frozen=True, eq=False)
class InvariantTables:
    """A set of invariants: rows of the raw layout of :func:`plan`.

    Hashable and compared by value (the layout and the rows chosen), so equal tables
    are one key of a cache or one static argument of ``jax.jit``.

    Attributes:
        n_per_l: number of radial channels for each l = 0 .. lmax.
        max_degree: the largest degree of the raw layout.
        rows: [F] raw rows, in output order (sorted by degree).
        spec: [F, 6] (degree, L, a, b, c, d): flat block indices (blocks ordered by
            (l, k)) of the coupling; -1 where unused (L = -1 for degrees 1 and 2).
        labels: one string per feature.
        groups: one multiset id per feature (used by the selection).
    """

    n_per_l: tuple[int, ...]
    max_degree: int
    rows: np.ndarray = field(repr=False)
    spec: np.ndarray = field(repr=False)
    labels: tuple[str, ...] = field(repr=False)
    groups: np.ndarray = field(repr=False)

    def _key(self) -> tuple:
        return (self.n_per_l, self.max_degree, self.rows.tobytes(), self.spec.tobytes())

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other) -> bool:
        if not isinstance(other, InvariantTables):
            return NotImplemented
        return self is other or self._key() == other._key()

    @property
    def lmax(self) -> int:
        return len(self.n_per_l) - 1

    def counts(self) -> dict[int, int]:
        """Number of invariants of each degree."""
        deg = self.spec[:, 0] if len(self.spec) else np.zeros(0, int)
        return {d: int(np.sum(deg == d)) for d in (1, 2, 3, 4)}

    @property
    def n_features(self) -> int:
        return len(self.rows)

    def subset(self, keep: np.ndarray) -> InvariantTables:
        """The tables restricted to the features ``keep`` (bool, output order)."""
        keep = np.asarray(keep, bool)
        labels = tuple(s for s, k in zip(self.labels, keep, strict=True) if k)
        return InvariantTables(
            self.n_per_l,
            self.max_degree,
            self.rows[keep],
            self.spec[keep],
            labels,
            self.groups[keep],
        )


def block_index(n_per_l: tuple[int, ...]) -> dict[tuple[int, int], int]:
    """Flat index of block (l, k), blocks ordered by (l, k)."""
    out, i = {}, 0
    for l, n in enumerate(n_per_l):
        for k in range(n):
            out[(l, k)] = i
            i += 1
    return out


def candidate_tables(n_per_l: tuple[int, ...], max_degree: int) -> InvariantTables:
    """All candidate invariants up to ``max_degree`` (before independence selection).

    Candidates are the raw rows with a <= b (<= c (<= d)), skipping the couplings of a
    block with itself to odd L (identically zero).
    """
    n_per_l = tuple(n_per_l)
    p = plan(n_per_l, max_degree)
    bi = block_index(n_per_l)
    rows, spec, labels, keys = [], [], [], []
    r = 0

    def add(row, deg, L, blocks, label):
        rows.append(row)
        spec.append((deg, L, *blocks, *([-1] * (4 - len(blocks)))))
        labels.append(label)
        keys.append(tuple(sorted(blocks)))

    if max_degree >= 1:
        for k in range(n_per_l[0]):
            add(r, 1, -1, (bi[(0, k)],), f"d1 (0,{k})")
            r += 1
    if max_degree >= 2:
        for l, n in enumerate(n_per_l):
            for i in range(n):
                for j in range(n):
                    if i <= j:
                        add(r, 2, -1, (bi[(l, i)], bi[(l, j)]), f"d2 l{l} ({i},{j})")
                    r += 1
    for la, lb, L in p.deg3:
        for ka in range(n_per_l[la]):
            for kb in range(n_per_l[lb]):
                for kc in range(n_per_l[L]):
                    a, b, c = bi[(la, ka)], bi[(lb, kb)], bi[(L, kc)]
                    if a <= b <= c:
                        add(r, 3, L, (a, b, c), f"d3 ({la},{ka})({lb},{kb})({L},{kc})")
                    r += 1
    for L, rp, cp, rects in p.deg4:
        xr = [q for a, b in rp for q in _pair_rows(a, b, n_per_l, L)]
        yr = [q for a, b in cp for q in _pair_rows(a, b, n_per_l, L)]
        for r0, r1, c0, c1 in rects:
            for la, ka, lb, kb in xr[r0:r1]:
                a, b = bi[(la, ka)], bi[(lb, kb)]
                for lc, kc, ld, kd in yr[c0:c1]:
                    c, d = bi[(lc, kc)], bi[(ld, kd)]
                    if b <= c:
                        add(
                            r,
                            4,
                            L,
                            (a, b, c, d),
                            f"d4 (({la},{ka})({lb},{kb}))L{L}(({lc},{kc})({ld},{kd}))",
                        )
                    r += 1
    assert r == p.size
    _, groups = np.unique(
        np.array([k + (-1,) * (4 - len(k)) for k in keys]).reshape(-1, 4),
        axis=0,
        return_inverse=True,
    )
    return InvariantTables(
        n_per_l,
        max_degree,
        np.asarray(rows, dtype=np.int64),
        np.asarray(spec, dtype=np.int64).reshape(-1, 6),
        tuple(labels),
        np.asarray(groups, dtype=np.int64).reshape(-1),
    )
