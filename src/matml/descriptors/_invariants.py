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
set) and inside ``jax.jit``. Under ``jax.grad`` the pairs, outer sums and blocks run
hand-written reverse rules (``jax.custom_vjp``) made of the same kinds of pieces, and
so do those rules' own derivatives (training on forces differentiates the gradient);
forward mode (``jax.jvp``) does not pass through them.
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
    if xp is np:
        return _blocks(c, n_per_l, np)
    return list(_blocks_jnp(c, tuple(n_per_l)))


def _blocks(c, n_per_l, xp):
    out, off = [], 0
    ct = c.T
    for l, n in enumerate(n_per_l):
        size = n * (2 * l + 1)
        out.append(xp.swapaxes(ct[off : off + size].reshape(n, 2 * l + 1, -1), 0, 1))
        off += size
    return out


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _blocks_jnp(c, n_per_l):
    """:func:`_blocks` with a hand-written reverse rule: each block's cotangent goes
    back to the moments' columns by a product with a constant permutation, and the
    columns are joined by one concatenation. (The transpose XLA gets otherwise, a sum
    of one zero-padded copy per block fused with the final transpose, took 15 ms for
    520 atoms at N = 7, as long as the rest of the invariants' backward pass.)"""
    return tuple(_blocks(c, n_per_l, jnp))


def _blocks_fwd(c, n_per_l):
    return _blocks_jnp(c, n_per_l), None


def _blocks_bwd(n_per_l, _, gs):
    # each block's cotangent [2l+1, n_l, B] back to columns [B, n_l (2l+1)] by a
    # product with a constant permutation: a plain transpose (or a concatenation) is
    # fused with every elementwise sum that feeds the cotangents into one strided,
    # branchy loop (15 ms for 520 atoms at N = 7); a product is never fused, so the
    # sums run first as contiguous loops along the batch (the products: 2 MFLOP)
    cols = [
        jnp.einsum(
            "rb,rj->bj",
            g.reshape(-1, g.shape[-1]),
            jnp.asarray(_unblock(*g.shape[:2]), dtype=g.dtype),
        )
        for g in gs
    ]
    return (jnp.concatenate(cols, axis=1),)


@cache
def _unblock(m: int, n: int) -> np.ndarray:
    """[(m n), (n m)]: row (i, k) of a block [m, n] -> column k m + i."""
    p = np.zeros((m * n, n * m))
    i, k = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    p[(i * n + k).ravel(), (k * m + i).ravel()] = 1.0
    return p


_blocks_jnp.defvjp(_blocks_fwd, _blocks_bwd)


def _outer_sum(x, y, xp=jnp):
    """sum_m x[m][:, None] * y[m][None, :] for x [M, P, B], y [M, Q, B] -> [P, Q, B]."""
    return _outer_sum_unrolled(x, y) if xp is np else _outer_sum_jnp(x, y)


def _outer_sum_unrolled(x, y):
    out = x[0][:, None] * y[0][None, :]
    for m in range(1, x.shape[0]):
        out = out + x[m][:, None] * y[m][None, :]
    return out


@jax.custom_vjp
def _outer_sum_jnp(x, y):
    """:func:`_outer_sum` unrolled (fused by XLA), with a hand-written reverse rule
    (:func:`_outer_cot`)."""
    return _outer_sum_unrolled(x, y)


def _outer_sum_fwd(x, y):
    return _outer_sum_unrolled(x, y), (x, y)


def _outer_sum_bwd(res, g):
    return _outer_cot(*res, g)


_outer_sum_jnp.defvjp(_outer_sum_fwd, _outer_sum_bwd)


@jax.custom_vjp
def _outer_cot(x, y, g):
    """The cotangents of ``_outer_sum(x, y)`` for ``g`` [P, Q, B]:
    (sum_q g[p, q] y[m, q], sum_p g[p, q] x[m, p]), [M, P, B] and [M, Q, B].

    Unrolled sums over the small axis of the other factor, elementwise loops along the
    contiguous batch: not the transposes of broadcasts (strided reductions) or of
    batch-last einsums (thousands of tiny products on XLA's CPU backend). It has a
    reverse rule of its own, made of itself and ``_outer_sum``, so that training on
    forces (which differentiates this) stays as fast.
    """
    gx = g[:, 0][None] * y[:, 0][:, None]
    for q in range(1, y.shape[1]):
        gx = gx + g[:, q][None] * y[:, q][:, None]
    gy = g[0][None] * x[:, 0][:, None]
    for p in range(1, x.shape[1]):
        gy = gy + g[p][None] * x[:, p][:, None]
    return gx, gy


def _outer_cot_fwd(x, y, g):
    return _outer_cot(x, y, g), (x, y, g)


def _outer_cot_bwd(res, cts):
    x, y, g = res
    dgx, dgy = cts
    dx, dy = _outer_cot(dgx, dgy, g)
    return dx, dy, _outer_sum_jnp(dgx, y) + _outer_sum_jnp(x, dgy)


_outer_cot.defvjp(_outer_cot_fwd, _outer_cot_bwd)


def coupled_pairs(blocks, p: Plan, xp=jnp):
    """D^L_{la lb} [2L+1, n_la, n_lb, B] for each pair of the plan, at the L it needs:
    ``{(la, lb): {L: D^L}}``.

    Only the L of ``pair_ls(p)[(la, lb)]`` are coupled (those the plan's degree-3 and
    degree-4 pieces read: for degree 3 that is about a third of every allowed L), all
    of a pair in one matrix product.
    """
    ls = pair_ls(p)
    pair = _pair if xp is np else _pair_jnp
    out = {}
    for la, lb in p.pairs:
        d = pair(blocks[la], blocks[lb], la, lb, ls[la, lb])
        parts = xp.split(d, np.cumsum([2 * L + 1 for L in ls[la, lb]])[:-1])
        out[la, lb] = dict(zip(ls[la, lb], parts, strict=True))
    return out


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


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def _pair_jnp(a, b, la, lb, ls):
    """:func:`_pair` with a hand-written reverse rule (:func:`_pair_cot`)."""
    return _pair(a, b, la, lb, ls, jnp)


def _pair_fwd(a, b, la, lb, ls):
    return _pair(a, b, la, lb, ls, jnp), (a, b)


def _pair_bwd(la, lb, ls, res, g):
    return _pair_cot(*res, g, la, lb, ls)


_pair_jnp.defvjp(_pair_fwd, _pair_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _pair_cot(a, b, g, la, lb, ls):
    """The cotangents of ``_pair(a, b)`` (a [ma, ka, B], b [mb, kb, B]) for ``g``
    [S, ka, kb, B].

    One matrix product with the constant CG, H[ma, mb, ka, kb, B] = sum_S C[ma, mb,
    S] g[S, ka, kb, B], then unrolled sums over the small axes: ga[ma, ka] = sum_{mb,
    kb} H b[mb, kb] and gb[mb, kb] = sum_{ma, ka} H a[ma, ka], elementwise loops along
    the batch. 1.7x faster than the transposes of einsum tangents (batch-last
    contractions, which XLA's CPU backend runs as thousands of tiny products). Its
    own reverse rule is made of itself and ``_pair``, so that training on forces
    (which differentiates this) stays as fast.
    """
    ma, na, nbatch = a.shape
    mb, nb = b.shape[0], b.shape[1]
    w = jnp.asarray(_cg_by_m(la, lb, ls), dtype=a.dtype)  # [(ma mb), S]
    h = (w @ g.reshape(w.shape[1], -1)).reshape(ma, mb, na, nb, nbatch)
    ga = sum(h[:, j, :, k] * b[j, k] for j in range(mb) for k in range(nb))
    gb = sum(h[i, :, k] * a[i, k] for i in range(ma) for k in range(na))
    return ga, gb


def _pair_cot_fwd(a, b, g, la, lb, ls):
    return _pair_cot(a, b, g, la, lb, ls), (a, b, g)


def _pair_cot_bwd(la, lb, ls, res, cts):
    a, b, g = res
    dga, dgb = cts
    da, db = _pair_cot(dga, dgb, g, la, lb, ls)
    dg = _pair_jnp(dga, b, la, lb, ls) + _pair_jnp(a, dgb, la, lb, ls)
    return da, db, dg


_pair_cot.defvjp(_pair_cot_fwd, _pair_cot_bwd)


@cache
def _cg_by_m(la: int, lb: int, ls: tuple[int, ...]) -> np.ndarray:
    """[(2la+1)(2lb+1), S]: the CG of each L in ``ls``, rows (m_a, m_b)."""
    w = _stacked_weights(la, lb, ls).reshape(2 * la + 1, -1, 2 * lb + 1)
    return np.ascontiguousarray(np.transpose(w, (0, 2, 1)).reshape(-1, w.shape[1]))


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
        dl = d[la, lb][L]  # [2L+1, na, nb, B]
        x = dl.reshape(2 * L + 1, -1, B)
        out.append(_outer_sum(x, blocks[L], xp).reshape(-1, B))
    for L, rows, cols, rects in p.deg4:

        def stack(ps, L=L):
            parts = []
            for a, b in ps:
                dl = d[a, b][L]  # [2L+1, na, nb, B]
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
