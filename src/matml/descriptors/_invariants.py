"""Evaluate :class:`InvariantTables` on batches of moment vectors.

Layout "batch last": per l the moments are [2l+1, n_l, B], so every operation below
moves contiguous rows of the batch. The raw rows of :func:`plan` are computed with dense
pieces only, no gathers (on the CPU, XLA runs gathers element by element, about ten
times slower per multiply-add than a fused elementwise loop):

* coupled pairs D_{la lb} [S, n_la, n_lb, B] (all L at once): first a matrix product of
  the constant stacked Clebsch-Gordan matrix with block lb, then a sum over m_a of
  outer products, unrolled (2 l_a + 1 terms, l_a <= l_b);
* degree 2, 3 and 4: sums over m (or M) of outer products of rows, unrolled, so XLA
  fuses each into one vectorised elementwise loop;
* each piece keeps its selected rows (whole, a slice, or a small take).

The same code runs on numpy arrays (used once, in float64, to select an independent
set) and inside ``jax.jit``.
"""

from __future__ import annotations

from functools import cache, partial

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np

from matml.descriptors._coupling import (
    InvariantTables,
    Plan,
    _pair_rows,
    pair_ls,
    plan,
)

__all__ = ["invariants", "raw_invariants", "moment_blocks", "coupled_pairs"]


def moment_blocks(c, n_per_l, xp=jnp):
    """Split flat moments [B, K] (per l: k-major, then m) into [2l+1, n_l, B] blocks."""
    out, off = [], 0
    ct = c.T
    for l, n in enumerate(n_per_l):
        size = n * (2 * l + 1)
        out.append(xp.swapaxes(ct[off : off + size].reshape(n, 2 * l + 1, -1), 0, 1))
        off += size
    return out


def _outer_sum(x, y, xp=jnp):
    """sum_m x[m][:, None] * y[m][None, :] for x [M, P, B], y [M, Q, B] -> [P, Q, B]."""
    return _outer_sum_unrolled(x, y) if xp is np else _outer_sum_jnp(x, y)


def _outer_sum_unrolled(x, y):
    out = x[0][:, None] * y[0][None, :]
    for m in range(1, x.shape[0]):
        out = out + x[m][:, None] * y[m][None, :]
    return out


@jax.custom_jvp
def _outer_sum_jnp(x, y):
    """:func:`_outer_sum` unrolled (fused by XLA), with an einsum tangent rule (its
    transpose, the reverse mode, is einsums too: see :func:`_pair_jnp`)."""
    return _outer_sum_unrolled(x, y)


@_outer_sum_jnp.defjvp
def _outer_sum_jnp_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    dout = jnp.einsum("mpB,mqB->pqB", dx, y) + jnp.einsum("mpB,mqB->pqB", x, dy)
    return _outer_sum_unrolled(x, y), dout


def coupled_pairs(blocks, p: Plan, xp=jnp):
    """D_{la lb} [S, n_la, n_lb, B] for each pair of the plan, at the L it needs.

    The L of ``pair_ls(p)[(la, lb)]`` follow one another along S (only the L that the
    plan's degree-3 and degree-4 pieces read: for degree 3 that is about a third of
    every allowed L).
    """
    ls = pair_ls(p)
    pair = _pair if xp is np else _pair_jnp
    return {
        (la, lb): pair(blocks[la], blocks[lb], la, lb, ls[la, lb]) for la, lb in p.pairs
    }


@cache
def _stacked_weights(la: int, lb: int, ls: tuple[int, ...]) -> np.ndarray:
    """[(2la+1) S, 2lb+1]: the CG of each L in ``ls``, rows (m_a, S)."""
    w = np.concatenate([e3nn.clebsch_gordan(la, lb, L) for L in ls], axis=-1)
    return np.transpose(w, (0, 2, 1)).reshape(-1, 2 * lb + 1)


def _pair_t(b, la, lb, ls, xp=jnp):
    """t[m_a, S, k_b, B] = sum_mb C[m_a, m_b, S] b[m_b, k_b, B] (one matrix product)."""
    wt = xp.asarray(_stacked_weights(la, lb, ls), dtype=b.dtype)
    nb, B = b.shape[1], b.shape[2]
    return (wt @ b.reshape(2 * lb + 1, nb * B)).reshape(2 * la + 1, -1, nb, B)


def _pair(a, b, la, lb, ls, xp=np):
    """D[S, ka, kb, B] = sum_ma a[ma, ka] t[ma, S, kb]: an unrolled sum over m_a (XLA
    fuses it into one elementwise loop; a dot_general with the batch last is slower)."""
    t = _pair_t(b, la, lb, ls, xp)[:, :, None]
    d = a[0][None, :, None, :] * t[0]
    for m in range(1, 2 * la + 1):
        d = d + a[m][None, :, None, :] * t[m]
    return d


@partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _pair_jnp(a, b, la, lb, ls):
    """:func:`_pair` with a tangent rule made of einsums.

    Reverse mode transposes the tangent rule: the transposes of these einsums are
    einsums again, about 4x faster on the CPU than the transpose XLA gets from the
    unrolled primal (broadcasts whose transposes are strided reductions). Forward mode
    and every higher derivative still work (a custom JVP, not a custom VJP).
    """
    return _pair(a, b, la, lb, ls, jnp)


@_pair_jnp.defjvp
def _pair_jnp_jvp(la, lb, ls, primals, tangents):
    a, b = primals
    da, db = tangents
    t = _pair_t(b, la, lb, ls)
    dt = _pair_t(db, la, lb, ls)
    d = _pair(a, b, la, lb, ls, jnp)
    dd = jnp.einsum("maB,mskB->sakB", da, t) + jnp.einsum("maB,mskB->sakB", a, dt)
    return d, dd


def _l_slice(p: Plan, la, lb, L):
    ls = pair_ls(p)[la, lb]
    start = sum(2 * x + 1 for x in ls[: ls.index(L)])
    return slice(start, start + 2 * L + 1)


def raw_invariants(c, p: Plan, xp=jnp, keep=None):
    """Raw rows of the plan ``p`` for moments ``c`` [B, K] -> [size, B].

    With ``keep`` (sorted raw indices) only those rows, [len(keep), B]: each piece keeps
    its own rows (whole, a slice or a small take), so no array of all raw rows is built.
    """
    npl = p.n_per_l
    blocks = moment_blocks(c, npl, xp)
    B = c.shape[0]
    out = []
    if p.max_degree >= 1:
        out.append(blocks[0][0])
    if p.max_degree >= 2:
        for b in blocks:
            out.append(_outer_sum(b, b, xp).reshape(-1, B))
    d = coupled_pairs(blocks, p, xp)
    for la, lb, L in p.deg3:
        dl = d[(la, lb)][_l_slice(p, la, lb, L)]  # [2L+1, na, nb, B]
        x = dl.reshape(2 * L + 1, -1, B)
        out.append(_outer_sum(x, blocks[L], xp).reshape(-1, B))
    for L, rows, cols, rects in p.deg4:

        def stack(ps, L=L):
            parts = []
            for a, b in ps:
                dl = d[(a, b)][_l_slice(p, a, b, L)]  # [2L+1, na, nb, B]
                if a == b:  # the rows of _pair_rows: per ka, a run of kb up to n
                    first: dict[int, int] = {}
                    for _, ka, _, kb in _pair_rows(a, b, npl, L):
                        first.setdefault(ka, kb)
                    parts += [dl[:, ka, kb:] for ka, kb in first.items()]
                else:
                    parts.append(dl.reshape(2 * L + 1, -1, B))
            x = parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=1)
            return _barrier(x, xp)

        x, y = stack(rows), stack(cols)
        for r0, r1, c0, c1 in rects:
            out.append(_outer_sum(x[:, r0:r1], y[:, c0:c1], xp).reshape(-1, B))
    if keep is not None:
        out = _select_rows(out, np.asarray(keep))
    if not out:
        return xp.zeros((0 if keep is None else len(keep), B), dtype=c.dtype)
    return out[0] if len(out) == 1 else xp.concatenate(out, axis=0)


def _select_rows(pieces, rows):
    kept, start = [], 0
    for piece in pieces:
        n = piece.shape[0]
        lo, hi = np.searchsorted(rows, [start, start + n])
        idx = rows[lo:hi] - start
        start += n
        if len(idx) == 0:
            continue
        if len(idx) == n:
            kept.append(piece)
        elif idx[-1] - idx[0] + 1 == len(idx):
            kept.append(piece[int(idx[0]) : int(idx[-1]) + 1])
        else:
            kept.append(piece[idx.astype(np.int32)])
    return kept


def _barrier(x, xp):
    """Materialise ``x`` (keeps XLA from fusing a many-way concatenation into loops)."""
    if xp is np:
        return x
    import jax

    return jax.lax.optimization_barrier(x)


def invariants(c, tables: InvariantTables, xp=jnp):
    """The invariants of ``tables`` for moment vectors ``c`` [B, K] -> [B, F].

    Output order: ``tables.labels`` (by degree).
    """
    p = plan(tables.n_per_l, tables.max_degree)
    return raw_invariants(c, p, xp, keep=tables.rows).T
