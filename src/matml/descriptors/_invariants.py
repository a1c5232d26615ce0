"""Evaluate the invariants of :class:`InvariantTables` on batches of moment vectors.

Everything is a dense contraction on fixed shapes, in a "batch last" layout so that every
gather moves contiguous rows of the batch: per l the moments are [n_l, 2l+1, B]; the
coupled pairs of each (l_a, l_b) are one matrix product of the constant stacked
Clebsch-Gordan matrix with the outer product of the two blocks; degree 3 and 4 are
gathers of rows of the coupled arrays followed by a sum over M. The same code runs on
numpy arrays (used once, in float64, to select an independent set) and inside ``jax.jit``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from matml.descriptors._coupling import InvariantTables, coupling_weights, pair_layout

__all__ = ["invariants", "coupled_pairs", "moment_blocks"]


def moment_blocks(c, n_per_l, xp=jnp):
    """Split flat moments [B, K] into per-l blocks [n_l, 2l+1, B] (batch last)."""
    out, off = [], 0
    ct = c.T
    for l, n in enumerate(n_per_l):
        size = n * (2 * l + 1)
        out.append(ct[off : off + size].reshape(n, 2 * l + 1, c.shape[0]))
        off += size
    return out


def coupled_pairs(blocks, n_per_l, needed, xp=jnp):
    """D^L [2L+1, P_L, B] for each L in ``needed`` (rows P_L as in ``pair_layout``)."""
    lmax = len(n_per_l) - 1
    B = blocks[0].shape[-1]
    pieces: dict[int, list] = {L: [] for L in range(lmax + 1)}
    for la in range(lmax + 1):
        for lb in range(la, lmax + 1):
            w, ls = coupling_weights(la, lb, lmax)
            if not any(L in needed for L in ls):
                continue
            na, nb = n_per_l[la], n_per_l[lb]
            wt = xp.asarray(w.reshape(-1, w.shape[-1]).T, dtype=blocks[la].dtype)
            outer = xp.einsum("imb,jnb->mnijb", blocks[la], blocks[lb])
            outer = outer.reshape(wt.shape[1], na * nb, B)
            if la == lb and na > 1:  # keep ka <= kb only (as pair_layout)
                iu = np.array([i * nb + j for i in range(na) for j in range(i, nb)])
                outer = outer[:, _int32(iu)]
            npair = outer.shape[1]
            d = wt @ outer.reshape(wt.shape[1], npair * B)  # [sum_L (2L+1), ...]
            d = d.reshape(-1, npair, B)
            start = 0
            for L in ls:
                size = 2 * L + 1
                if L in needed:
                    pieces[L].append(d[start : start + size])
                start += size
    return {
        L: xp.concatenate(pieces[L], axis=1) if len(pieces[L]) > 1 else pieces[L][0]
        for L in needed
    }


def invariants(c, tables: InvariantTables, xp=jnp):
    """All invariants of ``tables`` for moment vectors ``c`` [B, K] -> [B, F].

    Output order: degree 1, degree 2 (by l), degree 3 (by L), degree 4 (by L), as
    ``tables.labels``.
    """
    n_per_l = tables.n_per_l
    blocks = moment_blocks(c, n_per_l, xp)
    i32 = _int32
    out = []
    if len(tables.deg1):
        out.append(c[:, i32(tables.deg1)])
    for l, ij in tables.deg2.items():
        if len(ij):
            b = blocks[l]
            out.append(xp.sum(b[i32(ij[:, 0])] * b[i32(ij[:, 1])], axis=1).T)
    needed = {L for L, v in tables.deg3.items() if len(v)}
    needed |= {L for L, v in tables.deg4.items() if len(v)}
    if needed:
        d = coupled_pairs(blocks, n_per_l, needed, xp)
        for L, pk in tables.deg3.items():
            if len(pk):
                out.append(
                    xp.sum(
                        d[L][:, i32(pk[:, 0])]
                        * blocks[L][i32(pk[:, 1])].swapaxes(0, 1),
                        axis=0,
                    ).T
                )
        for L, pq in tables.deg4.items():
            if len(pq):
                out.append(_degree4(d[L], pq, n_per_l, L, xp))
    if not out:
        return xp.zeros((c.shape[0], 0), dtype=c.dtype)
    return xp.concatenate(out, axis=1)


def _degree4(d, pq, n_per_l, L, xp):
    """<D_p, D_q> for the pairs ``pq`` of rows of D^L [2L+1, P, B] -> [B, F].

    Gram matrices of the rows used (a dense contraction, cheaper than gathering both
    rows of every pair), one per parity of l_a + l_b: even invariants only couple rows
    of equal parity, so two half-size Gram matrices suffice. Then pick the pairs.
    """
    rows = pair_layout(tuple(n_per_l))["rows"][L]
    parity = np.array([(r[0] + r[2]) % 2 for r in rows])
    out = np.empty(len(pq), dtype=np.int64)
    pieces, offset = [], 0
    for par in (0, 1):
        sel = np.flatnonzero(parity[pq[:, 0]] == par)
        if not len(sel):
            continue
        sub = pq[sel]
        used, inv = np.unique(sub, return_inverse=True)
        inv = inv.reshape(sub.shape)
        u = len(used)
        du = d[:, _int32(used)]
        g = xp.einsum("mpb,mqb->bpq", du, du).reshape(du.shape[-1], u * u)
        pieces.append(g[:, _int32(inv[:, 0] * u + inv[:, 1])])
        out[sel] = offset + np.arange(len(sel))
        offset += len(sel)
    cat = xp.concatenate(pieces, axis=1) if len(pieces) > 1 else pieces[0]
    return cat[:, _int32(out)]  # back to the order of ``pq``


def _int32(a):
    """Constant index arrays as int32 (works whether or not x64 is enabled)."""
    return np.asarray(a, dtype=np.int32)
