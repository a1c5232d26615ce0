"""Equivariant convolution: node features times edge harmonics, weighted per path by a
radial MLP, summed over neighbours (NequIP's and MACE's interaction)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml.nn.equivariant.blocks import concat_flat, split_flat
from matml.nn.mlp import MLP

__all__ = ["Convolution", "coupling"]


@cache
def coupling(l1: int, l2: int, l3: int) -> np.ndarray:
    """e3nn-jax's Clebsch-Gordan coefficients ``[2l1+1, 2l2+1, 2l3+1]`` times
    sqrt(2 l3 + 1) ("component" normalisation), as a read-only float64 array."""
    cg = np.sqrt(2 * l3 + 1) * e3nn.clebsch_gordan(l1, l2, l3).astype(np.float64)
    cg.setflags(write=False)
    return cg


class Convolution(nnx.Module):
    """``m_i = 1/avg sum_j R_p(r_ij) * (h_j (x) Y(r_ij))_p`` for every path p.

    A path couples input block ``mul x ir_1`` with ``Y_l`` (parity (-1)^l) to an output
    irrep ``ir_3`` in ``ir_1 x Y_l`` that ``filter_ir_out`` keeps; it is channel-wise
    ("uvu": channel u of the input feeds channel u of the output), with one radial weight
    per edge, path and channel. Coefficients are e3nn-jax's Clebsch-Gordan coefficients
    times sqrt(2 l_3 + 1) (its "component" normalisation).

    How it runs (designed for XLA's CPU backend, which gathers and scatters element by
    element): one gather of the flat node features to the edges; per path, the harmonics
    are contracted with the coefficients first (``[E, d1, d3]``, no channel axis), then
    with the channels (an unrolled sum of broadcast products, fused into one loop),
    and each path's messages go to the receivers in a sorted segment sum. Edges must
    be sorted by receiver (matml's neighbour lists and batches are).

    Args:
        irreps_in: irreps of the node features (blocks).
        max_ell: largest l of the edge harmonics.
        filter_ir_out: output irreps to keep (e.g. ``0e + 1o + 2e + 3o``).
        n_basis: size of the radial embedding.
        radial_hidden: hidden widths of the radial MLP (SiLU, no biases, so weights
            vanish with the envelope at the cutoff).
    """

    def __init__(
        self,
        irreps_in,
        max_ell: int,
        filter_ir_out,
        *,
        n_basis: int = 8,
        radial_hidden: Sequence[int] = (64, 64, 64),
        rngs: nnx.Rngs,
        dtype=None,
    ):
        self.irreps_in = e3nn.Irreps(irreps_in)
        keep = {ir for _, ir in e3nn.Irreps(filter_ir_out)}
        paths = []  # (input block, l of Y, output irrep), grouped by output irrep
        for i, (_, ir1) in enumerate(self.irreps_in):
            for l2 in range(max_ell + 1):
                ir2 = e3nn.Irrep(l2, (-1) ** l2)
                for ir3 in ir1 * ir2:
                    if ir3 in keep:
                        paths.append((i, l2, ir3))
        if not paths:
            raise ValueError(f"Convolution: no path from {self.irreps_in} to {keep}")
        paths.sort(key=lambda p: (p[2].l, -p[2].p * (-1) ** p[2].l, p[0], p[1]))
        self.paths = tuple((i, l2, str(ir3)) for i, l2, ir3 in paths)
        self.irreps_out = e3nn.Irreps(
            [(self.irreps_in[i].mul, ir3) for i, _, ir3 in paths]
        )
        self.max_ell = int(max_ell)
        n_weights = sum(self.irreps_in[i].mul for i, _, _ in paths)
        dtype = dtype or jnp.float32
        self.radial = MLP(
            [n_basis, *radial_hidden, n_weights],
            activation="silu_normalized",
            bias=False,
            rngs=rngs,
            dtype=dtype,
        )
        # inference only (tabulate): a RadialTable of the radial MLP, or of its last
        # hidden layer (table_hidden)
        self.table_hidden = False
        self.table = nnx.data(None)

    def tabulate(self, embedding, intervals: int = 1024) -> None:
        """Evaluate the radial MLP from a :class:`RadialTable` of it (on top of
        ``embedding``, the model's :class:`RadialEmbedding`) from now on; for
        inference only: the table does not follow later changes of the MLP's weights
        (which stay in the state).

        Where the MLP has more outputs than its last hidden width (many paths), the
        table holds that hidden layer instead, and the last layer stays a matrix
        product: a table row is then no wider than the hidden layer.
        """
        from matml.nn.equivariant.radial import RadialTable

        mlp = self.radial
        kernel = mlp.layers[-1].kernel[...]
        self.table_hidden = kernel.shape[1] > kernel.shape[0]

        def fn(r):
            h = embedding.of_lengths(r, jnp.ones(r.shape, bool))
            if not self.table_hidden:
                return mlp(h)
            for layer in mlp.layers[:-1]:
                h = mlp.act(layer(h))
            return h

        table = RadialTable(fn, embedding.cutoff, intervals, dtype=kernel.dtype)
        self.table = nnx.data(table)

    def __call__(
        self,
        blocks,
        harmonics: Sequence[jax.Array],
        radial: jax.Array,
        senders: jax.Array,
        receivers: jax.Array,
        avg_num_neighbors: jax.Array | float = 1.0,
        lengths: tuple[jax.Array, jax.Array] | None = None,
    ):
        """Messages summed on the receivers: blocks of :attr:`irreps_out`.

        Args:
            blocks: node features, aligned with ``irreps_in``.
            harmonics: ``Y_l`` of the edges, l = 0..max_ell (``[E, 2l + 1]`` each).
            radial: radial embedding ``[E, n_basis]`` (zero on padded edges).
            senders, receivers: ``[E]`` edge ends (receivers sorted).
            lengths: edge lengths and mask ``([E], [E])``, which a tabulated
                convolution (:meth:`tabulate`) reads instead of ``radial``.
        """
        weights = self._radial_weights(radial, lengths)
        return self.messages(
            blocks, harmonics, weights, senders, receivers, avg_num_neighbors
        )

    def _radial_weights(self, radial, lengths):
        """The per-path radial weights: ``[E, n_weights]`` from a whole table, or a
        function ``(first, count) -> [E, count]`` that applies the MLP's last layer
        per path (a slice of its kernel each, so that the backward pass sums one
        small matmul per path rather than padding every path's cotangent to the full
        weight width) to its last hidden layer, from the MLP or from a table."""
        if self.table is not None:
            if lengths is None:
                raise ValueError("a tabulated Convolution needs the edge lengths")
            if not self.table_hidden:
                return self.table(*lengths)
            h = self.table(*lengths)
        else:
            h = radial
            for layer in self.radial.layers[:-1]:
                h = self.radial.act(layer(h))
        kernel = self.radial.layers[-1].kernel[...]

        def path_weights(w0, u):
            return h @ kernel[:, w0 : w0 + u]

        return path_weights

    def messages(
        self, blocks, harmonics, weights, senders, receivers, avg_num_neighbors
    ):
        """:meth:`__call__` with the radial weights given: ``[E, n_weights]``, or a
        function ``(first, count) -> [E, count]`` of their columns."""
        n = blocks[0].shape[0]
        flat = concat_flat(blocks)[senders]  # one gather
        out = []
        for msg in self._path_messages(flat, harmonics, weights):
            e = msg.shape[0]
            # one segment sum per path: XLA's CPU backend is several times slower
            # on one concatenation of all paths' messages than on the paths apart
            summed = jax.ops.segment_sum(
                msg.reshape(e, -1), receivers, n, indices_are_sorted=True
            )
            out.append(summed.reshape(n, *msg.shape[1:]) / avg_num_neighbors)
        return tuple(out)

    def edge_messages(self, edge_flat, harmonics, radial):
        """Per-edge messages, not summed: blocks ``[E, d3, u]`` of
        :attr:`irreps_out`, from flat features already on the edges
        (``concat_flat`` of blocks of :attr:`irreps_in`, gathered)."""
        weights = self.radial(radial)
        return tuple(self._path_messages(edge_flat, harmonics, weights))

    def _path_messages(self, flat, harmonics, weights):
        """Each path's messages ``[E, d3, u]`` from flat edge features."""
        if not callable(weights):
            array = weights

            def weights(w0, u):
                return array[:, w0 : w0 + u]

        edge_blocks = split_flat(self.irreps_in, flat)
        dtype = flat.dtype
        w0 = 0
        for i, l2, ir3 in self.paths:
            x = edge_blocks[i]  # [E, d1, u]
            cg = coupling(self.irreps_in[i].ir.l, l2, e3nn.Irrep(ir3).l)
            u = x.shape[2]
            r = weights(w0, u)[:, None, :]  # [E, 1, u]
            w0 += u
            t = jnp.einsum("eb,abc->eac", harmonics[l2], jnp.asarray(cg, dtype))
            # [E, d3, u] = sum_a t[:, a, :, None] (x r)[:, a, None, :]: channels
            # innermost, a broadcast product reduced over the d1 values of a (2 l1 + 1,
            # 7 for l1 = 3), which XLA fuses into one loop, and whose transposes (the
            # backward passes) are broadcast products and reductions again. As an
            # einsum it was a batch of E tiny matrix products, whose transposes ran at
            # about 1 GFLOP/s on the CPU; as a sum unrolled over a, the transposes
            # padded every term's slice back to [E, d1, u] and summed the pads (on
            # mlearn Mo, batch 4, mace's training step took 1.1-1.3x this one's time)
            yield jnp.sum(t[:, :, :, None] * (x * r)[:, :, None, :], axis=1)
