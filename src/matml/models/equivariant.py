"""E(3)-equivariant message-passing potentials (NequIP and MACE class), from one code.

Both models are :class:`EquivariantNetwork`; they differ in one key, ``correlation``:

- ``nequip`` (``correlation: 0``): each interaction is a convolution, a linear layer and
  a gated non-linearity, with a per-species self-connection (NequIP; Batzner et al.
  2022). The per-atom energy is a linear read-out of the last layer's scalars.
- ``mace`` (``correlation: 3`` by default): each interaction is the same convolution and
  linear layer, then MACE's product basis (a symmetric contraction of every channel with
  itself up to ``correlation``, per species; Batatia et al. 2022), a linear layer and a
  per-species residual. Every layer reads out an energy (linear; an MLP on the last),
  and the per-atom energy is their sum.

The layers are in :mod:`matml.nn.equivariant`. Node features are ``channels`` copies of
``hidden_irreps`` (e.g. ``0e + 1o``); the last layer keeps scalars only, since only
they reach the energy. The convolution's sum over neighbours is divided by the
training set's average neighbour count (:meth:`EquivariantNetwork.fit_statistics`,
stored as a constant like E0s).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import e3nn_jax as e3nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml.data.graph import AtomsGraph, safe_norm
from matml.nn import MLP, Constant
from matml.nn.equivariant import (
    Convolution,
    Gate,
    IrrepsLinear,
    RadialEmbedding,
    SpeciesEmbedding,
    SymmetricContraction,
    edge_harmonics,
)

__all__ = ["EquivariantNetwork", "NequIPNetwork", "MACENetwork"]


def _times(channels: int, irreps) -> e3nn.Irreps:
    return e3nn.Irreps([(channels, ir) for _, ir in e3nn.Irreps(irreps)])


class EquivariantNetwork(nnx.Module):
    """Per-atom energies from equivariant message passing.

    Args:
        species: chemical symbols, in the order of ``graph.species`` indices.
        cutoff: interaction range, Å.
        channels: multiplicity of every irrep of the node features.
        hidden_irreps: one-channel irreps of the node features, e.g. ``"0e + 1o"``.
        max_ell: largest l of the edge spherical harmonics.
        num_interactions: number of message-passing layers.
        correlation: 0 for NequIP's gated layers; >= 1 for MACE's product basis of
            that body order minus one.
        n_basis: Bessel functions of the radial embedding.
        envelope_p: order of the polynomial envelope.
        radial_hidden: hidden widths of the radial MLP.
        readout_hidden: hidden width of the last layer's read-out MLP (MACE); 0 gives
            a linear read-out.
        avg_num_neighbors: the divisor of the neighbour sum until
            :meth:`fit_statistics` sets it from training data.
        last_irreps: one-channel irreps that the last layer keeps (default ``0e``:
            only scalars reach the energy); output heads of tensor properties
            (:mod:`matml.properties`) read them, so a potential with such heads
            keeps ``hidden_irreps`` there.
        species_features: ``"magpie"`` adds a learned linear map of the elements'
            22 standardised Magpie properties (:mod:`matml.io.elements`) to the species
            embedding: for data sets with many elements, some of them rare.
        embedding_channels: width of the species embedding that the first
            convolution reads (default ``channels``). ``"species"`` (one per species)
            is nequix's design, whose first layer convolves the one-hot species (a
            learned embedding of that width is the same up to a linear map): the
            first convolution then moves that many channels per edge, not
            ``channels``, and the layer after it widens them.
        rngs: initial weights (``nnx.Rngs``; default seed 0).
    """

    default_correlation = 3

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        channels: int = 32,
        hidden_irreps: str = "0e + 1o",
        max_ell: int = 3,
        num_interactions: int = 2,
        correlation: int | None = None,
        n_basis: int = 8,
        envelope_p: int = 5,
        radial_hidden: Sequence[int] = (64, 64, 64),
        readout_hidden: int = 16,
        avg_num_neighbors: float = 1.0,
        last_irreps: str | None = None,
        species_features: str | None = None,
        embedding_channels: int | str | None = None,
        dtype=None,
        rngs: nnx.Rngs | None = None,
    ):
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        dtype = dtype or jnp.float32
        correlation = self.default_correlation if correlation is None else correlation
        if correlation < 0 or num_interactions < 1 or channels < 1 or max_ell < 0:
            raise ValueError(
                "equivariant model: correlation >= 0, num_interactions >= 1, "
                f"channels >= 1 and max_ell >= 0 (got {correlation}, "
                f"{num_interactions}, {channels}, {max_ell})"
            )
        self.n_species = len(species)
        self.correlation = int(correlation)
        self.max_ell = int(max_ell)
        self.channels = int(channels)
        hidden = e3nn.Irreps(hidden_irreps).regroup()  # sorted: 0e first
        if any(mul != 1 for mul, _ in hidden) or "0e" not in [
            str(ir) for _, ir in hidden
        ]:
            raise ValueError(
                f"hidden_irreps {hidden_irreps!r}: give one-channel irreps including 0e "
                "(e.g. '0e + 1o'); their multiplicity is `channels`"
            )
        last_keep = e3nn.Irreps(last_irreps or "0e").regroup()
        if any(mul != 1 for mul, _ in last_keep) or "0e" not in [
            str(ir) for _, ir in last_keep
        ]:
            raise ValueError(
                f"last_irreps {last_irreps!r}: give one-channel irreps including 0e"
            )
        sh = e3nn.Irreps.spherical_harmonics(max_ell)
        c = self.channels
        opts = {"rngs": rngs, "dtype": dtype}
        features = None
        if species_features:
            from matml.io.elements import element_features

            features = element_features(species, species_features)
        if embedding_channels == "species":
            embedding_channels = self.n_species
        e = c if embedding_channels is None else embedding_channels
        if isinstance(e, bool) or not isinstance(e, int) or e < 1:
            raise ValueError(
                f"embedding_channels {embedding_channels!r}: give a width >= 1, "
                "'species' (as many as species) or leave it out (= channels)"
            )
        self.embedding = SpeciesEmbedding(self.n_species, e, features=features, **opts)
        self.radial = RadialEmbedding(cutoff, n_basis, envelope_p)
        self.avg_num_neighbors = Constant(jnp.asarray(avg_num_neighbors, dtype))

        irreps = e3nn.Irreps(f"{e}x0e")
        ups, convs, mixes, products, updates, skips, readouts = ([] for _ in range(7))
        skip_into = []  # per layer: which output blocks the residual adds to
        for t in range(num_interactions):
            last = t == num_interactions - 1
            out_irreps = _times(c, last_keep if last else hidden)
            ups.append(IrrepsLinear(irreps, irreps, **opts))
            conv = Convolution(
                irreps,
                max_ell,
                sh if self.correlation else out_irreps,
                n_basis=n_basis,
                radial_hidden=radial_hidden,
                **opts,
            )
            convs.append(conv)
            if self.correlation:
                # MACE: mix paths to channels x Y-irreps, product basis, linear
                mid = _times(c, sh)
                mid = e3nn.Irreps(
                    [(m, ir) for m, ir in mid if ir in [i for _, i in conv.irreps_out]]
                )
                mixes.append(IrrepsLinear(conv.irreps_out, mid, **opts))
                one = e3nn.Irreps([(1, ir) for _, ir in mid])
                keep = e3nn.Irreps([(1, ir) for _, ir in out_irreps])
                products.append(
                    SymmetricContraction(
                        one,
                        keep,
                        channels=c,
                        correlation=self.correlation,
                        n_species=self.n_species,
                        **opts,
                    )
                )
                updates.append(IrrepsLinear(out_irreps, out_irreps, **opts))
            else:
                gate = Gate(out_irreps)
                mixes.append(IrrepsLinear(conv.irreps_out, gate.input_irreps(), **opts))
                products.append(gate)
            # residual: a per-species linear map of the layer's input to its output
            common = e3nn.Irreps(
                [(m, ir) for m, ir in out_irreps if ir in [i for _, i in irreps]]
            )
            skips.append(
                IrrepsLinear(
                    irreps, common, n_species=self.n_species, per_species=True, **opts
                )
            )
            skip_into.append(
                tuple(i for i, (_, ir) in enumerate(out_irreps) if ir in common)
            )
            if self.correlation or last:
                scalars = e3nn.Irreps(f"{c}x0e")
                if last and self.correlation and readout_hidden:
                    readouts.append(
                        MLP([c, int(readout_hidden), 1], activation="silu", **opts)
                    )
                else:
                    readouts.append(IrrepsLinear(scalars, "1x0e", **opts))
            irreps = out_irreps
        self.ups = nnx.List(ups)
        self.convolutions = nnx.List(convs)
        self.mixes = nnx.List(mixes)
        self.products = nnx.List(products) if self.correlation else tuple(products)
        self.updates = nnx.List(updates)
        self.skips = nnx.List(skips)
        self.readouts = nnx.List(readouts)
        self._skip_into = tuple(skip_into)
        self.feature_irreps = irreps  # of the last layer's node features

    def __call__(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """Per-atom energies [N] (in the potential's normalised units)."""
        return self.features(graph, vectors)[0]

    def features(self, graph: AtomsGraph, vectors: jax.Array):
        """Per-atom energies [N] and what output heads read: the last layer's node
        features (blocks of :attr:`feature_irreps`), the edge harmonics, the radial
        embedding and the neighbour-sum divisor."""
        mask = graph.edge_mask
        species = graph.species
        ys = edge_harmonics(vectors, mask, self.max_ell)
        lengths = safe_norm(vectors, mask)
        radial = self.radial.of_lengths(lengths, mask)  # (unused once tabulated)
        avg = self.avg_num_neighbors[...]
        h = (self.embedding(species),)
        energy = jnp.zeros(species.shape[0], vectors.dtype)
        r = 0
        for t, conv in enumerate(self.convolutions):
            x = self.ups[t](h)
            m = conv(
                x, ys, radial, graph.senders, graph.receivers, avg, (lengths, mask)
            )
            m = self.mixes[t](m)
            if self.correlation:
                new = self.updates[t](self.products[t](m, species))
            else:
                new = self.products[t](m)
            skip = self.skips[t](h, species)
            new = list(new)
            for k, i in enumerate(self._skip_into[t]):
                new[i] = new[i] + skip[k]
            h = tuple(new)
            if self.correlation or t == len(self.convolutions) - 1:
                readout = self.readouts[r]
                r += 1
                if isinstance(readout, MLP):
                    energy = energy + readout(h[0][:, 0, :])[:, 0]
                else:
                    energy = energy + readout((h[0],))[0][:, 0, 0]
        return energy, (h, ys, radial, avg)

    def tabulate(self, intervals: int = 1024) -> None:
        """Evaluate the radial MLPs from cubic-spline tables
        (:class:`~matml.nn.equivariant.RadialTable`) from now on: the same function to
        within float32 rounding, at a fraction of the cost per edge. In place, for
        inference only: call it on a copy (:meth:`Potential.tabulated`)."""
        for conv in self.convolutions:
            conv.tabulate(self.radial, intervals)

    @property
    def is_tabulated(self) -> bool:
        return any(conv.table is not None for conv in self.convolutions)

    def fit_statistics(self, graphs: Iterable[AtomsGraph]) -> None:
        """Set the average neighbour count (edges per real atom) from training batches."""
        edges = nodes = 0
        for g in graphs:
            edges += int(np.sum(np.asarray(g.edge_mask)))
            nodes += int(np.sum(np.asarray(g.node_mask)))
        if nodes:
            dtype = self.avg_num_neighbors[...].dtype
            with jax.enable_x64(dtype == jnp.float64):
                self.avg_num_neighbors.value = jnp.asarray(
                    max(edges / nodes, 1.0), dtype
                )


class NequIPNetwork(EquivariantNetwork):
    """:class:`EquivariantNetwork` with gated layers (``correlation: 0``): NequIP class."""

    default_correlation = 0


class MACENetwork(EquivariantNetwork):
    """:class:`EquivariantNetwork` with the product basis (``correlation: 3``): MACE
    class."""

    default_correlation = 3
