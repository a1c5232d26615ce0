"""Closed-form fit of a linear model (``linear``): ridge least squares on energies,
forces and stress, as SNAP and linear ACE are fitted.

The model's energy is linear in its weights and its E0s: ``E = scale * sum_i w_s(i) .
x_i + n shift + sum_i E0_s(i)`` with standardised invariants ``x_i``. Each structure
contributes rows ``sum_i onehot(s_i) x_i`` and its atoms of each species (energy, per
atom), ``-d/dr`` of them (forces) and ``(1/V) d/d(strain)`` (stress), computed by
forward-mode autodiff of the descriptor; the E0s are refitted with the weights, as
SNAP's and ACE's constant term is.
Their weighted normal equations are summed over the training set; the ridge parameter
is the one (of a grid) with the lowest loss on the validation split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from matml._jit import jit
from matml.data import Buckets, Dataset, GraphLoader
from matml.errors import InputError
from matml.keys import VOIGT_INDEX

__all__ = ["fit_linear", "LinearFit"]

ALPHAS = tuple(10.0**k for k in range(-10, 3))


@dataclass
class LinearFit:
    """What :func:`fit_linear` chose and measured."""

    alpha: float
    valid_loss: dict[float, float] = field(default_factory=dict)  # alpha -> loss
    e0: list[float] = field(default_factory=list)  # the E0s after the fit, eV
    n_rows: int = 0
    seconds: float = 0.0


def _invariant_jacobian(fn, c, degree: int = 4, value=None):
    """``d fn(c)_k / d c_m`` for every row of ``c`` [R, M] -> [R, K, M], for
    invariants that are polynomials of degree <= ``degree`` (<= 4) in the moments.

    Along each moment a polynomial of degree d is exactly differentiated by a stencil
    of d + 1 points (the truncation error is a (d+1)-th derivative): no derivative
    rule of the invariants is needed, and the evaluations batch into a few large
    calls. ``value`` is ``fn(c)``, if already known (the stencils use t = 0).
    """
    n_rows, m = c.shape
    h = jnp.maximum(jnp.max(jnp.abs(c), axis=1, keepdims=True), 1e-30)  # [R, 1]
    eye = jnp.eye(m, dtype=c.dtype)
    points, coefs = _stencil(degree)
    # fn at c + t h e_m for every point t, row and moment, in one call (one copy of
    # the invariants in the compiled program, not one per point): [P, R, M, K]
    moved = jnp.stack([c[:, None, :] + (t * h)[:, :, None] * eye[None] for t in points])
    f = fn(moved.reshape(len(points) * n_rows * m, m)).reshape(
        len(points), n_rows, m, -1
    )
    d = sum(k * f[p] for p, k in enumerate(coefs))
    if degree == 3:
        f0 = (fn(c) if value is None else value)[:, None, :]
        d = d - 0.5 * f0  # the centre point's weight, -3/6
    return jnp.swapaxes(d / h[:, :, None], 1, 2)


def _stencil(degree: int) -> tuple[tuple, tuple]:
    """Points and weights of a derivative at 0 exact for polynomials of ``degree``
    (for degree 3 the centre point's weight, -1/2, is added by the caller)."""
    if degree <= 2:  # exact for quadratics
        return (1.0, -1.0), (0.5, -0.5)
    if degree == 3:  # points -1, 0, 1, 2: exact for cubics
        return (-1.0, 1.0, 2.0), (-2.0 / 6.0, 6.0 / 6.0, -1.0 / 6.0)
    # points -2, -1, 1, 2: exact for quartics
    return (-2.0, -1.0, 1.0, 2.0), (1.0 / 12.0, -8.0 / 12.0, 8.0 / 12.0, -1.0 / 12.0)


def _directional_jacobian(fn, c, rows, u, degree: int = 4, value=None):
    """``sum_m d fn(c[rows[e]])_k / d c_m u[e, m, x]`` -> [E, K, 3]: the derivative of
    row ``rows[e]`` of ``fn(c)`` along each of the three directions ``u[e, :, x]``.

    The same exact stencil as :func:`_invariant_jacobian`, taken along the E * 3
    directions that the chain rule needs (an edge's moment Jacobian) instead of along
    every moment of every row: fewer evaluations when 3 E < R M (an edge moves only
    its centre's moments). ``value`` is ``fn(c)``, if already known.
    """
    c_e = c[rows]  # [E, M]
    scale_c = jnp.max(jnp.abs(c_e), axis=1)  # [E]
    size_u = jnp.max(jnp.abs(u), axis=1)  # [E, 3]
    # a step of about the row's own size along every direction (a zero direction,
    # a padding edge's, gets a zero derivative)
    h = jnp.maximum(scale_c[:, None], 1e-30) / jnp.where(size_u > 0, size_u, 1.0)
    points, coefs = _stencil(degree)
    moved = jnp.stack(
        [c_e[:, None, :] + (t * h)[:, :, None] * jnp.swapaxes(u, 1, 2) for t in points]
    )  # [P, E, 3, M]
    n_e, m = c_e.shape
    f = fn(moved.reshape(len(points) * n_e * 3, m)).reshape(len(points), n_e, 3, -1)
    d = sum(k * f[p] for p, k in enumerate(coefs))
    if degree == 3:
        f0 = (fn(c) if value is None else value)[rows]
        d = d - 0.5 * f0[:, None, :]
    return jnp.swapaxes(d / h[:, :, None], 1, 2)


@lru_cache(maxsize=8)
def _rows_fn(graphdef):
    """Jitted graph -> (energy rows [G, S*F], force rows [N, 3, S*F], stress rows
    [G, 3, 3, S*F]) of the linear model, in units of its ``scale``.

    By the chain rule through the moments ``c_i = sum_e phi(v_e)`` of each centre, so
    that no derivative passes through the descriptor once per feature: per-edge moment
    Jacobians ``d phi / d v_e`` (three forward-mode tangents), per-atom invariant
    Jacobians ``d x_i / d c_i``, and their product for every edge.
    """
    from flax import nnx

    from matml.data.graph import edge_vectors, volumes
    from matml.descriptors import _api

    def rows(state, graph):
        model = nnx.merge(graphdef, state).model
        desc = model.descriptor
        G, N, E = graph.num_graphs, graph.num_nodes, graph.num_edges
        S, C = model.n_species, desc.n_channels
        v = edge_vectors(graph)
        nbr = graph.species[graph.senders]
        mask = graph.edge_mask

        def edge_moments(shift):  # every edge its own "centre": [E, C, M]
            return desc.moments_from_edges(v + shift, jnp.arange(E), nbr, mask, E)

        m_e = edge_moments(jnp.zeros(3, v.dtype))
        jac_e = jax.jacfwd(edge_moments)(jnp.zeros(3, v.dtype))  # [E, C, M, 3]
        ch = model.edge_channels(graph)
        jac_e = jac_e[jnp.arange(E), ch]  # [E, M, 3]: the edge's own channel
        c = jax.ops.segment_sum(m_e, graph.receivers, N).reshape(N * C, -1)  # [N*C, M]

        def inv(rows_):
            return _api._chunked_invariants(rows_, desc.tables, desc.chunk_size)

        x_rows = inv(c)  # [N*C, Fc]
        x = x_rows.reshape(N, -1)  # [N, C*Fc]
        fi = x.shape[1]
        mean = model.feature_mean[...]
        scale = model.feature_scale[...]
        if model.two_body:
            p, p_r, p_virial = _two_body_chain(model, graph, v, ch, scale[fi:], S, C)
            x = jnp.concatenate([x, p], axis=1)
        xs = (x - mean) / scale * graph.node_mask[:, None]
        sp_n = jax.nn.one_hot(graph.species, S, dtype=v.dtype)
        per = (sp_n[:, :, None] * xs[:, None, :]).reshape(N, -1)
        e_rows = jax.ops.segment_sum(per, graph.node_graph, G)
        fewer = 3 * E < c.shape[0] * c.shape[1]
        if DIRECTIONAL or (DIRECTIONAL is None and fewer):
            # d x_i / d v_e along the edge's three moment tangents, per edge
            jm = jac_e * mask[:, None, None]
            seg = graph.receivers * C + ch
            t_e = _directional_jacobian(inv, c, seg, jm, desc.max_degree, x_rows)
            d_r, virial = _edge_rows(graph, v, t_e, ch, scale[:fi], S, C)
        else:
            d_inv = _invariant_jacobian(inv, c, desc.max_degree, x_rows)  # [NC, Fc, M]
            chain = _dense_chain if N <= DENSE_PAIRS_MAX_NODES else _edge_chain
            d_r, virial = chain(graph, v, d_inv, jac_e, ch, scale[:fi], sp_n, C)
        if model.two_body:  # each species' columns: the invariants', then the block's
            d_r = _join_species(d_r, p_r, S, axis=1)
            virial = _join_species(virial, p_virial, S, axis=3)
        # forces: F_n = -dE/dr_n, with v_e = r_sender - r_receiver + shift
        f_rows = -jnp.swapaxes(d_r, 1, 2)  # [N, 3, S*F]
        # stress: (1/V) dE/d(strain) = (1/V) sum_e v_e (x) dE/dv_e
        s_rows = jax.ops.segment_sum(virial, graph.node_graph, G)  # [G, 3, 3, S*F]
        vol = jnp.where(graph.graph_mask, volumes(graph.cell), 1.0)
        s_rows = s_rows / vol[:, None, None, None]
        return e_rows, f_rows, s_rows

    return jit(rows)


#: None: take the invariants' derivatives along each edge's three moment tangents
#: when that needs fewer evaluations than their Jacobian along every moment (3 E < N C
#: M); True / False: always / never (a switch for tests and timing)
DIRECTIONAL: bool | None = None

#: graphs of at most this many (padded) atoms sum the chain rule over dense
#: (centre, atom) pairs: a few batched matrix products instead of one [F, M] block of
#: the invariants' Jacobian gathered for every edge (which moves E * F * M numbers)
DENSE_PAIRS_MAX_NODES = 160


def _dense_chain(graph, v, d_inv, jac_e, ch, scale, sp_n, C):
    """dE-rows / d r_n [N, S*F, 3] and the per-centre virial [N, 3, 3, S*F] from the
    invariants' Jacobians ``d_inv`` [N*C, Fc, M] and the per-edge moment Jacobians
    ``jac_e`` [E, M, 3], with sums over edges taken before the products."""
    N = graph.num_nodes
    fc, m = d_inv.shape[1], d_inv.shape[2]
    S = sp_n.shape[1]
    dinv = d_inv.reshape(N, C, fc, m)
    jm = jac_e * graph.edge_mask[:, None, None]
    seg = graph.receivers * C + ch
    inv_scale = (1.0 / scale).reshape(C, fc)
    # an atom as centre: the sum of its edges' Jacobians, times its own d_inv
    r_sum = jax.ops.segment_sum(jm, seg, N * C).reshape(N, C, m, 3)
    own = jnp.einsum("icfm,icmx,cf,is->iscfx", dinv, r_sum, inv_scale, sp_n)
    # an atom as neighbour: per (centre, channel, neighbour) sums, times the centre's
    pairs = jax.ops.segment_sum(jm, seg * N + graph.senders, N * C * N)
    pairs = pairs.reshape(N, C, N, m, 3)
    other = jnp.einsum("is,icfm,icnmx,cf->nscfx", sp_n, dinv, pairs, inv_scale)
    d_r = (other - own).reshape(N, S * C * fc, 3)
    q = jax.ops.segment_sum(v[:, None, :, None] * jm[:, :, None, :], seg, N * C)
    q = q.reshape(N, C, m, 3, 3)
    virial = jnp.einsum("icfm,icmab,cf,is->iabscf", dinv, q, inv_scale, sp_n)
    return d_r, virial.reshape(N, 3, 3, S * C * fc)


def _edge_chain(graph, v, d_inv, jac_e, ch, scale, sp_n, C):
    """As :func:`_dense_chain`, one edge at a time (any number of atoms; more memory
    traffic: the [Fc, M] Jacobian block of its centre is gathered for every edge)."""
    N = graph.num_nodes
    fc = d_inv.shape[1]
    # d xs_i / d v_e for the edges of centre i, in the block of the edge's channel
    g_e = d_inv.reshape(N, C, fc, -1)[graph.receivers, ch]  # [E, Fc, M]
    t_e = jnp.einsum("efm,emc->efc", g_e, jac_e)  # [E, Fc, 3]
    return _edge_rows(graph, v, t_e, ch, scale, sp_n.shape[1], C)


def _edge_rows(graph, v, t_e, ch, scale, S, C):
    """Force-row and virial contributions from each edge's ``t_e`` [E, Fc, 3], the
    derivative of its centre's invariants (in the edge's channel) along the edge."""
    N, E = graph.num_nodes, graph.num_edges
    fc = t_e.shape[1]
    mask = graph.edge_mask
    t_e = t_e * mask[:, None, None]
    if C > 1:
        t_e = jax.vmap(lambda t, k: jnp.zeros((C, fc, 3), t.dtype).at[k].set(t))(
            t_e, ch
        ).reshape(E, C * fc, 3)
    t_e = t_e / scale[None, :, None]
    # per-species columns: [S, C*Fc] flattened
    sp_e = jax.nn.one_hot(graph.species[graph.receivers], S, dtype=v.dtype)
    t_e = (sp_e[:, :, None, None] * t_e[:, None]).reshape(E, -1, 3)  # [E, S*F, 3]
    d_r = jax.ops.segment_sum(t_e, graph.senders, N) - jax.ops.segment_sum(
        t_e, graph.receivers, N
    )  # [N, S*F, 3]
    virial = jnp.einsum("ea,ekb->eabk", v, t_e)
    return d_r, jax.ops.segment_sum(virial, graph.receivers, N)


def _two_body_chain(model, graph, v, ch, scale, S, C):
    """The two-body block's raw features [N, C*K] and, as :func:`_edge_chain` gives
    them for the invariants, its rows' d / d r_n [N, S*C*K, 3] and per-centre virial
    [N, 3, 3, S*C*K] (``scale``: the block's feature scales)."""
    N, E = graph.num_nodes, graph.num_edges
    K = model.two_body
    mask = graph.edge_mask
    p = model.two_body_features(graph, v)  # [N, C*K]
    # each edge's functions depend on its own vector only: one shared shift gives
    # every edge's Jacobian [E, K, 3]
    jac = jax.jacfwd(lambda s: model.two_body_basis(v + s, mask))(jnp.zeros(3, v.dtype))
    if C > 1:  # into the block of the edge's channel
        onehot = jax.nn.one_hot(ch, C, dtype=v.dtype)
        jac = (onehot[:, :, None, None] * jac[:, None]).reshape(E, C * K, 3)
    t_e = jac / scale[None, :, None]
    sp_e = jax.nn.one_hot(graph.species[graph.receivers], S, dtype=v.dtype)
    t_e = (sp_e[:, :, None, None] * t_e[:, None]).reshape(E, -1, 3)  # [E, S*C*K, 3]
    d_r = jax.ops.segment_sum(t_e, graph.senders, N) - jax.ops.segment_sum(
        t_e, graph.receivers, N
    )
    virial = jnp.einsum("ea,ekb->eabk", v, t_e)
    return p, d_r, jax.ops.segment_sum(virial, graph.receivers, N)


def _join_species(a, b, S, axis):
    """Concatenate two species-major column blocks ([..., S*Fa, ...] and
    [..., S*Fb, ...] along ``axis``) species by species: [..., S*(Fa+Fb), ...]."""
    sa = a.shape[:axis] + (S, -1) + a.shape[axis + 1 :]
    sb = b.shape[:axis] + (S, -1) + b.shape[axis + 1 :]
    out = jnp.concatenate([a.reshape(sa), b.reshape(sb)], axis=axis + 1)
    return out.reshape(a.shape[:axis] + (-1,) + a.shape[axis + 1 :])


def _batches(dataset: Dataset, buckets: Buckets | None = None):
    """One structure per batch, sizes padded to a few buckets (shared by the training
    and validation sets) so that few shapes compile."""
    return GraphLoader(
        dataset, 1, buckets=buckets or Buckets.for_dataset(dataset, 1, 4)
    )


class _Normal(NamedTuple):
    """Weighted normal equations of a data set: ``A^T W A``, ``A^T W b``, ``b^T W b``
    and the number of weighted rows (enough to score any weights without the rows)."""

    gram: np.ndarray
    rhs: np.ndarray
    bwb: float
    rows: int

    def loss(self, coef) -> float:
        """Weighted mean squared residual of ``A coef - b``."""
        num = coef @ self.gram @ coef - 2.0 * coef @ self.rhs + self.bwb
        return float(max(num, 0.0)) / max(self.rows, 1)


def _system(potential, dataset: Dataset, weights, buckets=None, progress=None):
    """The weighted normal equations of ``dataset`` (its rows are not kept)."""
    from flax import nnx

    graphdef, state = nnx.split(potential)
    fn = _rows_fn(graphdef)
    we, wf, ws = weights
    scale = float(potential.scale[...])
    shift = float(potential.shift[...])
    e0 = np.asarray(potential.e0[...], dtype=np.float64)
    gram = rhs = None
    bwb, n_rows = 0.0, 0
    for graph in _batches(dataset, buckets):
        with jax.enable_x64(True):  # rows of normal equations: float64 throughout
            e_rows, f_rows, s_rows = jax.device_get(fn(state, graph.cast(np.float64)))
        gm = np.asarray(graph.property_mask["energy"], bool)  # structures with one
        n = graph.n_node[gm].astype(np.float64)
        # atoms of each species in each structure [G, S]
        n_const = e0.shape[0]
        counts = np.zeros((len(gm), n_const))
        real = np.asarray(graph.node_mask, bool)
        np.add.at(counts, (graph.node_graph[real], graph.species[real]), 1.0)
        species_e0 = (counts @ e0)[gm]
        # energy per atom, in units of scale; the last S columns are per-species
        # constants (atoms of each species per atom), which E0s and the shift alone
        # do not fit: the standardised features average to zero over the training
        # atoms, so without them a constant offset per atom could not be corrected
        a_e = np.concatenate([e_rows, counts], axis=1)[gm] / n[:, None]
        b_e = (graph.energy[gm] - species_e0 - n * shift) / n / scale
        sw = np.asarray(graph.weight, np.float64)  # each structure's loss weight
        rows_a, rows_b, rows_w = [a_e], [b_e], [we * sw[gm]]
        fm = np.asarray(graph.property_mask["forces"], bool)
        if wf > 0 and fm.any():
            rows_a.append(
                _pad_columns(f_rows[fm].reshape(-1, f_rows.shape[-1]), n_const)
            )
            rows_b.append(graph.forces[fm].reshape(-1) / scale)
            rows_w.append(np.repeat(wf * sw[graph.node_graph[fm]], 3))
        sm = np.asarray(graph.property_mask["stress"], bool)
        if ws > 0 and sm.any():
            s_sel = s_rows[sm][:, *VOIGT_INDEX].reshape(-1, s_rows.shape[-1])
            rows_a.append(_pad_columns(s_sel, n_const))
            rows_b.append(graph.stress[sm][:, *VOIGT_INDEX].reshape(-1) / scale)
            rows_w.append(np.repeat(ws * sw[sm], 6))
        a = np.concatenate(rows_a)
        b = np.concatenate(rows_b)
        w = np.concatenate(rows_w)
        g, r = a.T @ (w[:, None] * a), a.T @ (w * b)
        gram, rhs = (g, r) if gram is None else (gram + g, rhs + r)
        bwb += float(np.sum(w * b * b))
        n_rows += int(np.sum(w > 0))
        if progress is not None:
            progress(1)
    return _Normal(gram, rhs, bwb, n_rows)


def _pad_columns(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` with ``k`` zero columns after its own (rows the constants do not touch)."""
    return np.concatenate([a, np.zeros((a.shape[0], k), a.dtype)], axis=1)


def fit_linear(
    potential,
    train: Dataset,
    valid: Dataset | None = None,
    *,
    energy_weight: float = 1.0,
    forces_weight: float = 1.0,
    stress_weight: float = 0.0,
    alphas=ALPHAS,
    fit_e0: bool = True,
    progress: bool = False,
) -> LinearFit:
    """Fit the linear weights and the E0s of a potential in place (its scale, shift,
    feature statistics and first E0s already set; any other part of the model must predict zero,
    as the descriptor network's MLP does before training). Loss weights are those of the trainer
    (``energy`` on (eV/atom)^2, ``forces`` on (eV/Å)^2, ``stress`` on (eV/Å^3)^2),
    each structure's rows times its weight (``Structure.weight``), as in the trainer.
    ``fit_e0=False`` keeps the E0s as they are (E0s the user gave).
    Without a validation split the smallest ridge parameter that solves is kept."""
    import time

    from matml.potential import precision

    if not hasattr(potential.model, "weights"):
        raise InputError(
            f"fit_linear fits a model with a linear term ('linear', or 'descriptor' "
            f"with linear: true), not {potential.model_name!r}",
            field="model.name",
        )
    t0 = time.perf_counter()
    weights = (energy_weight, forces_weight, stress_weight)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(train) + (len(valid) if valid else 0), desc="linear fit",
                   unit="structure", leave=False)  # fmt: skip
    tick = bar.update if bar is not None else None
    buckets = Buckets.for_datasets([train, valid], 1, 2)
    with precision(potential.dtype):
        fit = _system(potential, train, weights, buckets, tick)
        score = fit  # without a validation split: the training loss, reported only
        if valid is not None and len(valid):
            score = _system(potential, valid, weights, buckets, tick)
    if bar is not None:
        bar.close()
    model = potential.model
    n_w = model.n_species * model.n_features  # the weights; then one constant a species
    # ridge relative to the mean diagonal of the weights' block, so alphas do not
    # depend on units. The per-species constants get 1e-10 of their own largest
    # diagonal: enough to solve when every structure has one composition (the columns
    # are then proportional: the smallest correction of the first E0s is taken) or a
    # species has no atoms (it keeps its E0). E0s given by the user stay as they are.
    diag = float(np.mean(np.diag(fit.gram)[:n_w])) or 1.0
    n_c = model.n_species if fit_e0 else 0
    gram, rhs = fit.gram[: n_w + n_c, : n_w + n_c], fit.rhs[: n_w + n_c]
    const = 1e-10 * (float(np.max(np.diag(fit.gram)[n_w:], initial=0.0)) or 1.0)
    result = LinearFit(alpha=alphas[0], n_rows=fit.rows)
    best = None
    for alpha in alphas:
        ridge = np.r_[np.full(n_w, alpha * diag), np.full(n_c, const)]
        try:
            coef = np.linalg.solve(gram + np.diag(ridge), rhs)
            coef = np.r_[coef, np.zeros(model.n_species - n_c)]  # fixed E0s: 0
        except np.linalg.LinAlgError:
            continue
        loss = score.loss(coef)
        result.valid_loss[alpha] = loss
        if best is None or loss < best[0]:
            best = (loss, alpha, coef)
        if score is fit:
            break
    if best is None:
        raise InputError("the linear system could not be solved for any ridge value")
    _, result.alpha, coef = best
    w = coef[:n_w].reshape(model.n_species, model.n_features)
    scale = float(potential.scale[...])
    e0 = np.asarray(potential.e0[...], np.float64) + scale * coef[n_w:]
    with precision(potential.dtype):
        model.weights.value = jnp.asarray(w, potential.dtype)
        potential.e0.value = jnp.asarray(e0, potential.dtype)
    result.e0 = np.asarray(potential.e0.value, np.float64).tolist()  # as stored
    result.seconds = time.perf_counter() - t0
    return result
