"""Rotation invariants of moment blocks by Clebsch-Gordan coupling, degree 1 to 4.

The moments of one environment form blocks c_b = c_{(l, k)}, one [2l + 1] vector per
angular momentum l and radial index k (k = (n - l) / 2 for Zernike moments). Under a
rotation R each block turns with the real Wigner matrix D^l(R), under the inversion
x -> -x it gets the sign (-1)^l. Invariants:

* degree 1: c_b for l = 0;
* degree 2 (power spectrum, (D^l x D^l)^0): sum_m c_a,m c_b,m for l_a = l_b, a <= b;
* degree 3 (bispectrum): <(c_a x c_b)^L, c_c> with L = l_c, the coupled pair
  (c_a x c_b)^L_M = sum C^{l_a l_b L}_{m_a m_b M} c_a,m_a c_b,m_b;
* degree 4: <(c_a x c_b)^L, (c_c x c_d)^L>, for the three pairings of {a, b, c, d}.

C are e3nn-jax's real Clebsch-Gordan coefficients (``e3nn.clebsch_gordan``, each
[2l1+1, 2l2+1, 2L+1] array of unit Frobenius norm), so every invariant is a polynomial in
the real moments, exactly invariant under rotations. Only couplings with l_a + l_b (+ l_c
(+ l_d)) even are kept: those are also invariant under inversion, so **a structure and
its mirror image have identical descriptors** (the odd, pseudoscalar couplings that would
tell them apart are left out on purpose). Intermediate L is capped at lmax.

This module enumerates the candidate couplings and lays out the index tables the
evaluator (:mod:`matml.descriptors._invariants`) contracts; selection of a linearly
independent subset is in :mod:`matml.descriptors._selection`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cache

import e3nn_jax as e3nn
import numpy as np

__all__ = ["InvariantTables", "pair_layout", "coupling_weights", "candidate_tables"]


@cache
def coupling_weights(la: int, lb: int, lmax: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Stacked CG [2la+1, 2lb+1, sum_L (2L+1)] for |la-lb| <= L <= min(la+lb, lmax)."""
    ls = tuple(range(abs(la - lb), min(la + lb, lmax) + 1))
    w = np.concatenate([e3nn.clebsch_gordan(la, lb, L) for L in ls], axis=-1)
    return w, ls


@cache
def pair_layout(n_per_l: tuple[int, ...]) -> dict:
    """Rows of the coupled-pair arrays D^L [P_L, 2L+1].

    For each L, pairs (la <= lb) with L allowed, then ka, kb (ka <= kb when la = lb:
    the other order is the same coupling up to a sign); returns
    ``{"rows": {L: [(la, ka, lb, kb), ...]}, "index": {(la, ka, lb, kb, L): row}}``.
    """
    lmax = len(n_per_l) - 1
    rows: dict[int, list] = {L: [] for L in range(lmax + 1)}
    for la in range(lmax + 1):
        for lb in range(la, lmax + 1):
            _, ls = coupling_weights(la, lb, lmax)
            for L in ls:
                for ka in range(n_per_l[la]):
                    for kb in range(ka if la == lb else 0, n_per_l[lb]):
                        rows[L].append((la, ka, lb, kb))
    index = {(*r, L): i for L, rs in rows.items() for i, r in enumerate(rs)}
    return {"rows": rows, "index": index}


@dataclass(frozen=True)
class InvariantTables:
    """Index tables of a set of invariants (numpy int arrays; hashable by identity).

    Attributes:
        n_per_l: number of radial channels for each l = 0 .. lmax.
        deg1: [F1] flat moment indices of the l = 0 components.
        deg2: per l, [F2_l, 2] radial index pairs (i, j).
        deg3: per L, [F3_L, 2] (row of D^L, radial index k of block (L, k)).
        deg4: per L, [F4_L, 2] (row of D^L, row of D^L).
        labels: one string per feature, in output order.
        groups: one multiset id per feature (used by the selection).
    """

    n_per_l: tuple[int, ...]
    deg1: np.ndarray
    deg2: dict[int, np.ndarray]
    deg3: dict[int, np.ndarray]
    deg4: dict[int, np.ndarray]
    labels: tuple[str, ...] = field(repr=False)
    groups: np.ndarray = field(repr=False)

    @property
    def lmax(self) -> int:
        return len(self.n_per_l) - 1

    def counts(self) -> dict[int, int]:
        """Number of invariants of each degree."""
        return {
            1: len(self.deg1),
            2: sum(len(v) for v in self.deg2.values()),
            3: sum(len(v) for v in self.deg3.values()),
            4: sum(len(v) for v in self.deg4.values()),
        }

    @property
    def n_features(self) -> int:
        return sum(self.counts().values())

    def subset(self, keep: np.ndarray) -> InvariantTables:
        """The tables restricted to the features ``keep`` (bool, output order)."""
        keep = np.asarray(keep, bool)
        pos = 0

        def take(arr):
            nonlocal pos
            sel = keep[pos : pos + len(arr)]
            pos += len(arr)
            return arr[sel]

        deg1 = take(self.deg1)
        deg2 = {L: take(v) for L, v in self.deg2.items()}
        deg3 = {L: take(v) for L, v in self.deg3.items()}
        deg4 = {L: take(v) for L, v in self.deg4.items()}
        labels = tuple(s for s, k in zip(self.labels, keep, strict=True) if k)
        return InvariantTables(
            self.n_per_l, deg1, deg2, deg3, deg4, labels, self.groups[keep]
        )


def _block_offsets(n_per_l: tuple[int, ...]) -> list[int]:
    off, out = 0, []
    for l, n in enumerate(n_per_l):
        out.append(off)
        off += n * (2 * l + 1)
    return out


def candidate_tables(n_per_l: tuple[int, ...], max_degree: int) -> InvariantTables:
    """All candidate invariants up to ``max_degree`` (before independence selection)."""
    lmax = len(n_per_l) - 1
    blocks = [(l, k) for l in range(lmax + 1) for k in range(n_per_l[l])]
    offsets = _block_offsets(n_per_l)
    index = pair_layout(n_per_l)["index"]
    labels: list[str] = []
    groups: list[int] = []
    gid = itertools.count()

    def row(a, b, L):
        (la, ka), (lb, kb) = sorted([a, b])
        return index[(la, ka, lb, kb, L)]

    deg1 = []
    if max_degree >= 1:
        for k in range(n_per_l[0]):
            deg1.append(offsets[0] + k)
            labels.append(f"d1 (l0,k{k})")
            groups.append(next(gid))
    deg2: dict[int, list] = {l: [] for l in range(lmax + 1)}
    if max_degree >= 2:
        for l in range(lmax + 1):
            for i in range(n_per_l[l]):
                for j in range(i, n_per_l[l]):
                    deg2[l].append((i, j))
                    labels.append(f"d2 l{l} (k{i},k{j})")
                    groups.append(next(gid))
    deg3: dict[int, list] = {l: [] for l in range(lmax + 1)}
    deg3_labels: dict[int, list] = {l: [] for l in range(lmax + 1)}
    deg3_groups: dict[int, list] = {l: [] for l in range(lmax + 1)}
    if max_degree >= 3:
        for a, b, c in itertools.combinations_with_replacement(blocks, 3):
            ls = (a[0], b[0], c[0])
            if sum(ls) % 2 or not abs(a[0] - b[0]) <= c[0] <= a[0] + b[0]:
                continue
            L = c[0]
            deg3[L].append((row(a, b, L), c[1]))
            deg3_labels[L].append(f"d3 {a}{b}{c}")
            deg3_groups[L].append(next(gid))
    for L in range(lmax + 1):
        labels += deg3_labels[L]
        groups += deg3_groups[L]
    deg4: dict[int, list] = {l: [] for l in range(lmax + 1)}
    deg4_labels: dict[int, list] = {l: [] for l in range(lmax + 1)}
    deg4_groups: dict[int, list] = {l: [] for l in range(lmax + 1)}
    if max_degree >= 4:
        for quad in itertools.combinations_with_replacement(blocks, 4):
            if sum(q[0] for q in quad) % 2:
                continue
            g = next(gid)
            a, b, c, d = quad
            seen = set()
            for (p1, p2), (p3, p4) in (
                ((a, b), (c, d)),
                ((a, c), (b, d)),
                ((a, d), (b, c)),
            ):
                lo = max(abs(p1[0] - p2[0]), abs(p3[0] - p4[0]))
                hi = min(p1[0] + p2[0], p3[0] + p4[0], lmax)
                for L in range(lo, hi + 1):
                    r1, r2 = sorted((row(p1, p2, L), row(p3, p4, L)))
                    if (L, r1, r2) in seen:
                        continue
                    seen.add((L, r1, r2))
                    deg4[L].append((r1, r2))
                    deg4_labels[L].append(f"d4 ({p1}{p2})L{L}({p3}{p4})")
                    deg4_groups[L].append(g)
    for L in range(lmax + 1):
        labels += deg4_labels[L]
        groups += deg4_groups[L]

    def arr(d):
        return {L: np.asarray(v, dtype=np.int64).reshape(-1, 2) for L, v in d.items()}

    return InvariantTables(
        tuple(n_per_l),
        np.asarray(deg1, dtype=np.int64),
        arr(deg2),
        arr(deg3),
        arr(deg4),
        tuple(labels),
        np.asarray(groups, dtype=np.int64),
    )
