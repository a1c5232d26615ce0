"""Output heads: declared properties (:mod:`matml.properties`) read off the equivariant
backbone's last-layer features.

A head makes, for every atom (or edge), the components of its property's irreps:

- a convolution of the node features with the edge harmonics (weighted per path by a
  radial MLP, summed over neighbours), which reaches any irreps that the features times
  ``Y_l`` (l <= ``max_ell``) contain, mixed linearly to the target irreps;
- plus a linear map of the atom's own features (for irreps the features carry);
- plus, for scalar (0e) components, an MLP of the atom's scalar features.

Per atom these are the property's values (scaled and shifted by training-set
statistics); per structure their sum or mean, or, for ``reduce: moment``, the dipole
``sum_i q_i (r_i - c) + p_i`` of per-atom charges ``q`` (made neutral per structure)
and atomic dipoles ``p``; per edge the same convolution's message on each edge, not
summed, from the features of both its ends. Rank-2 Cartesian kinds come back as 3x3
tensors through e3nn-jax's orthonormal basis (``Property.basis``).
"""

from __future__ import annotations

from collections.abc import Sequence

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml.nn import MLP, Constant
from matml.nn.equivariant import (
    Convolution,
    IrrepsLinear,
    blocks_to_irreps_array,
    concat_flat,
)

__all__ = ["PropertyHead", "InvariantHead", "head_irreps"]


def head_irreps(prop) -> e3nn.Irreps:
    """The irreps a head makes per atom or edge: the property's own, or ``0e + 1o``
    (a charge and an atomic dipole) for ``reduce: moment``."""
    if prop.level == "structure" and prop.reduce == "moment":
        return e3nn.Irreps("0e + 1o")
    return e3nn.Irreps(prop.irreps).regroup()


class _Head(nnx.Module):
    """What every head shares: per-item components (:meth:`per_item`, normalised),
    their scale and shift from training data, and the reduction to the property's
    level and Cartesian shape."""

    def _init_statistics(self, dtype) -> None:
        self.scale = Constant(jnp.asarray(1.0, dtype))
        self.shift = Constant(jnp.zeros((self.target.dim,), dtype))

    def __call__(self, graph, *inputs) -> jax.Array:
        """The property's values: ``[G|N|E, *shape]`` in the file's units."""
        return self.values(self.per_item(graph, *inputs), graph)

    def values(self, y: jax.Array, graph) -> jax.Array:
        p = self.prop
        scale, shift = self.scale[...], self.shift[...]
        G = graph.num_graphs
        if p.level == "structure" and p.reduce == "moment":
            n = jnp.maximum(graph.n_node, 1).astype(y.dtype)
            q = scale * y[:, 0]
            q = q - (jax.ops.segment_sum(q, graph.node_graph, G) / n)[graph.node_graph]
            q = jnp.where(graph.node_mask, q, 0.0)
            r = graph.positions
            centre = jax.ops.segment_sum(r, graph.node_graph, G) / n[:, None]
            r = r - centre[graph.node_graph]
            atomic = scale * y[:, 1:4]
            value = jax.ops.segment_sum(q[:, None] * r + atomic, graph.node_graph, G)
        else:
            value = scale * y + jnp.where(
                (graph.node_mask if p.level != "edge" else graph.edge_mask)[:, None],
                shift,
                0.0,
            )
            if p.level == "structure":
                value = jax.ops.segment_sum(value, graph.node_graph, G)
                if p.reduce == "mean":
                    n = jnp.maximum(graph.n_node, 1).astype(y.dtype)
                    value = value / n[:, None]
        basis = p.basis()
        if basis is not None:
            value = jnp.einsum("ijk,rk->rij", jnp.asarray(basis, value.dtype), value)
        elif p.shape == ():
            value = value[:, 0]
        return value

    def fit_statistics(self, values: list[np.ndarray], n_atoms: list[int]) -> None:
        """Set scale and shift from the training targets (one entry per structure:
        ``[*shape]``, or ``[n|m, *shape]``): the shift is the mean of the scalar (0e)
        components (per atom, for a structure-level sum), the scale the root mean
        square of what is left."""
        p = self.prop
        if not values:
            return
        basis = p.basis()

        def comps(v):  # components [rows, dim]
            v = np.asarray(v, np.float64)
            if basis is not None:
                v = np.einsum("...ij,ijk->...k", v, basis)
            return v.reshape(-1, self.target.dim if p.reduce != "moment" else 3)

        if p.level == "structure":
            x = np.concatenate([comps(v) for v in values])
            if p.reduce == "sum":
                x = x / np.asarray(n_atoms, np.float64)[:, None]
            elif p.reduce == "moment":
                scale = np.sqrt(np.mean(x**2)) / max(np.mean(n_atoms), 1.0)
                self._set(scale, np.zeros(self.target.dim))
                return
        else:
            x = np.concatenate([comps(v) for v in values])
        scalar = np.zeros(self.target.dim, bool)
        start = 0
        for mul, ir in self.target:
            if ir == e3nn.Irrep("0e"):
                scalar[start : start + mul] = True
            start += mul * ir.dim
        shift = np.where(scalar, x.mean(axis=0), 0.0)
        rms = float(np.sqrt(np.mean((x - shift) ** 2)))
        self._set(rms if rms > 0 else 1.0, shift)

    def _set(self, scale: float, shift: np.ndarray) -> None:
        dtype = self.scale[...].dtype
        with jax.enable_x64(dtype == jnp.float64):
            self.scale.value = jnp.asarray(scale, dtype)
            self.shift.value = jnp.asarray(shift, dtype)


class InvariantHead(_Head):
    """A scalar property from an invariant model's per-atom features (the descriptor
    models' standardised moment invariants): an MLP per atom, then the reduction.
    Only 0e outputs, per atom or per structure (sum or mean)."""

    def __init__(self, prop, n_features: int, *, rngs, dtype=None):
        dtype = dtype or jnp.float32
        target = head_irreps(prop)
        if (
            prop.level == "edge"
            or prop.reduce == "moment"
            or any(ir != e3nn.Irrep("0e") for _, ir in target)
        ):
            raise ValueError(
                f"property {prop.name} ({prop.level}, {target}): an invariant model's "
                "heads make scalars (0e) per atom or per structure (sum or mean); "
                "use nequip or mace for tensors, moments and edges"
            )
        self.prop = prop
        self.target = target
        self.mlp = MLP([n_features, prop.hidden, target.dim], activation="silu",
                       rngs=rngs, dtype=dtype)  # fmt: skip
        self._init_statistics(dtype)

    def per_item(self, graph, features: jax.Array) -> jax.Array:
        """Normalised components ``[N, dim]``."""
        return jnp.where(graph.node_mask[:, None], self.mlp(features), 0.0)


class PropertyHead(_Head):
    """One declared property from the backbone's features.

    Args:
        prop: the :class:`~matml.properties.Property`.
        irreps_in: irreps of the backbone's last-layer node features.
        max_ell, n_basis, radial_hidden: as the backbone's convolutions.
    """

    def __init__(
        self,
        prop,
        irreps_in,
        *,
        max_ell: int,
        n_basis: int,
        radial_hidden: Sequence[int] = (64, 64),
        rngs: nnx.Rngs,
        dtype=None,
    ):
        dtype = dtype or jnp.float32
        self.prop = prop
        irreps_in = e3nn.Irreps(irreps_in)
        target = head_irreps(prop)
        self.target = target
        reach = {
            ir3
            for _, ir1 in irreps_in
            for l2 in range(max_ell + 1)
            for ir3 in ir1 * e3nn.Irrep(l2, (-1) ** l2)
        }
        missing = [str(ir) for _, ir in target if ir not in reach]
        if missing:
            raise ValueError(
                f"property {prop.name}: {' + '.join(missing)} cannot be made from the "
                f"model's features {irreps_in.regroup()} and edge harmonics up to "
                f"l = {max_ell}; add an irrep of the other parity to hidden_irreps"
            )
        self.conv = Convolution(
            irreps_in,
            max_ell,
            target,
            n_basis=n_basis,
            radial_hidden=radial_hidden,
            rngs=rngs,
            dtype=dtype,
        )
        self.mix = IrrepsLinear(self.conv.irreps_out, target, rngs=rngs, dtype=dtype)
        own = e3nn.Irreps([(mul, ir) for mul, ir in target if ir in irreps_in])
        self.own = (
            IrrepsLinear(irreps_in, own, rngs=rngs, dtype=dtype) if len(own) else None
        )
        self._own_index = tuple(
            i for i, (_, ir) in enumerate(target) if ir in irreps_in
        )
        n0 = sum(mul for mul, ir in target if ir == e3nn.Irrep("0e"))
        c0 = irreps_in[0].mul  # the scalars come first (regrouped irreps)
        self.scalar_mlp = (
            MLP([c0, prop.hidden, n0], activation="silu", rngs=rngs, dtype=dtype)
            if n0
            else None
        )
        self._init_statistics(dtype)

    def per_item(self, graph, h, ys, radial, avg) -> jax.Array:
        """Normalised components ``[N, dim]`` (atoms) or ``[E, dim]`` (edges)."""
        if self.prop.level == "edge":
            flat = concat_flat(h)
            x = flat[graph.senders] + flat[graph.receivers]  # symmetric in its ends
            blocks = self.conv.edge_messages(x, ys, radial)
            out = list(self.mix(blocks))
            mask = graph.edge_mask
        else:
            m = self.conv(h, ys, radial, graph.senders, graph.receivers, avg)
            out = list(self.mix(m))
            if self.own is not None:
                for k, y in zip(self._own_index, self.own(h), strict=True):
                    out[k] = out[k] + y
            if self.scalar_mlp is not None:
                out[0] = out[0] + self.scalar_mlp(h[0][:, 0, :])[:, None, :]
            mask = graph.node_mask
        y = blocks_to_irreps_array(self.target, tuple(out)).array
        return jnp.where(mask[:, None], y, 0.0)
