"""Potentials on the moment invariants of :mod:`matml.descriptors`: a per-species
network (``descriptor``) and its linear baseline (``linear``).

Each atom's environment becomes the invariants ``x_i`` of
:class:`~matml.descriptors.MomentInvariants` (computed inside the model, so forces and
stress come out of the one autodiff pass of :mod:`matml.potential`, through the
descriptor), standardised with the training set's per-feature mean and scale (stored
as constants, like E0s: :meth:`DescriptorModel.fit_statistics`). The network maps them
to a per-atom energy with one SiLU MLP per species; the linear model is ``w_s . x_i``,
fitted in closed form by :func:`matml.train.fit_linear` (ridge least squares on
energies, forces and stress, as SNAP and linear ACE are).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from matml._jit import jit
from matml.data.graph import AtomsGraph
from matml.errors import ConfigError
from matml.nn import MLP, Constant

__all__ = ["DescriptorNetwork", "LinearDescriptor", "DescriptorModel"]

# what the MLP reads: the standardised invariants as they are, or asinh of them
# (linear within about one standard deviation, logarithmic beyond: atoms far from
# the training set's typical environments, such as surface atoms, whose rarely
# non-zero invariants stand at 10-30 standard deviations, stay in the MLP's range)
INPUTS = ("standard", "asinh")


@lru_cache(maxsize=16)
def _descriptor(key: str):
    """One :class:`MomentInvariants` per configuration (its tables are built once)."""
    from matml.descriptors import MomentInvariants

    return MomentInvariants(**json.loads(key))


class DescriptorModel(nnx.Module):
    """What both descriptor models share: the descriptor and its standardisation.

    Args:
        species: chemical symbols, in the order of ``graph.species`` indices.
        cutoff: the descriptor's cutoff, Å.
        max_order: N of the moments (radial and angular resolution).
        max_degree: largest degree of the invariants (2: power spectrum, 3:
            bispectrum-like, 4: one order more).
        radial, cutoff_fn, density, sigma: see ``MomentInvariants``.
        weights: element -> weight of a single density; ``None`` gives each species a
            density channel of its own.
        two_body: K, the size of a two-body block beside the invariants (0: none):
            for each channel, ``sum_j sin(k pi r_ij / r_c) / r_ij f_c(r_ij)``, k = 1..K
            (unweighted: with ``weights`` given, one channel sums every neighbour).
            The moments of order N resolve distances with only N // 2 + 1 radial
            functions at l = 0; this block resolves the pair distribution finely.
    """

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        max_order: int = 7,
        max_degree: int = 3,
        radial: str = "zernike",
        cutoff_fn: str = "triweight",
        density: str = "delta",
        sigma: float = 0.4,
        weights: Mapping[str, float] | None = None,
        two_body: int = 0,
        dtype=None,
    ):
        if (
            isinstance(two_body, bool)
            or not isinstance(two_body, int | float)
            or int(two_body) != two_body
            or two_body < 0
        ):
            raise ConfigError(
                f"must be a non-negative integer, got {two_body!r}",
                field="model.two_body",
            )
        config = {
            "cutoff": float(cutoff),
            "max_order": int(max_order),
            "max_degree": int(max_degree),
            "species": list(species),
            "weights": None if weights is None else dict(weights),
            "density": density,
            "sigma": float(sigma),
            "radial": radial,
            "cutoff_fn": cutoff_fn,
        }
        # static and hashable (it lands in the nnx GraphDef): the config, not the object
        self._descriptor_key = json.dumps(config, sort_keys=True)
        self.n_species = len(species)
        self.two_body = int(two_body)
        dtype = dtype or jnp.float32
        k = self.n_features
        self.feature_mean = Constant(jnp.zeros(k, dtype))
        self.feature_scale = Constant(jnp.ones(k, dtype))

    @property
    def descriptor(self):
        return _descriptor(self._descriptor_key)

    @property
    def n_features(self) -> int:
        """Features per atom: the invariants, then the two-body block (if any)."""
        desc = self.descriptor
        return desc.n_features + desc.n_channels * self.two_body

    def two_body_basis(self, vectors: jax.Array, mask: jax.Array) -> jax.Array:
        """The two-body block's functions of each edge [E, K] (zero on padding)."""
        from matml.descriptors._cutoff import cutoff_function, masked_norm

        desc = self.descriptor
        r = jnp.where(mask, masked_norm(vectors, mask), 1.0)
        k = jnp.arange(1, self.two_body + 1, dtype=vectors.dtype)
        g = jnp.sin(k * (jnp.pi / desc.cutoff) * r[:, None]) / r[:, None]
        fc = cutoff_function(r, desc.cutoff, desc.cutoff_fn)
        return g * (fc * mask)[:, None]

    def edge_channels(self, graph: AtomsGraph) -> jax.Array:
        """Each edge's density channel (its neighbour's species, or 0) [E]."""
        if self.descriptor.n_channels > 1:
            return graph.species[graph.senders]
        return jnp.zeros_like(graph.senders)

    def raw_features(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """Invariants (and the two-body block) [N, n_features] of every atom (zero
        rows on padding)."""
        n = graph.positions.shape[0]
        x = self.descriptor.from_edges(
            vectors, graph.receivers, graph.species[graph.senders], graph.edge_mask, n
        )
        if not self.two_body:
            return x
        return jnp.concatenate([x, self.two_body_features(graph, vectors)], axis=1)

    def two_body_features(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """The two-body block of every atom [N, channels * K], raw (unstandardised)."""
        n, c = graph.positions.shape[0], self.descriptor.n_channels
        seg = graph.receivers * c + self.edge_channels(graph)
        g = self.two_body_basis(vectors, graph.edge_mask)
        return jax.ops.segment_sum(g, seg, n * c).reshape(n, c * self.two_body)

    def features(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        """Standardised invariants [N, n_features]."""
        x = self.raw_features(graph, vectors)
        return (x - self.feature_mean[...]) / self.feature_scale[...]

    def fit_statistics(self, graphs: Iterable[AtomsGraph]) -> None:
        """Set the per-feature mean and scale from the atoms of ``graphs`` (padded
        batches of the training set; numpy or device arrays)."""
        from matml.data.graph import edge_vectors

        dtype = self.feature_mean[...].dtype

        @jit
        def sums(graph):
            x = self.raw_features(graph, edge_vectors(graph)).astype(jnp.float64)
            m = graph.node_mask.astype(x.dtype)[:, None]
            return (
                jnp.sum(m, axis=0),
                jnp.sum(m * x, axis=0),
                jnp.sum(m * x * x, axis=0),
            )

        n = s1 = s2 = 0.0
        with jax.enable_x64(True):  # sums of many squares: float64 accumulators
            for g in graphs:
                a, b, c = jax.device_get(sums(g.cast(dtype)))
                n, s1, s2 = n + a, s1 + b, s2 + c
            n = np.maximum(n, 1.0)
            mean = s1 / n
            std = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
            # constant features (a degree whose invariants vanish in these structures)
            # keep scale 1 instead of blowing up rounding noise
            scale = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1e-12), std, 1.0)
            self.feature_mean.value = jnp.asarray(mean, dtype)
            self.feature_scale.value = jnp.asarray(scale, dtype)


class DescriptorNetwork(DescriptorModel):
    """Per-atom energies from a per-species MLP (SiLU) on standardised invariants,
    on top of a linear term: ``E_i = w_s . x_i + MLP_s(x_i)``.

    With ``linear=True`` (the default) the linear term is fitted first in closed form
    (:func:`matml.train.fit_linear`, by ``train_from_config``) and the MLP's last layer
    starts at zero, so training starts from the linear model's accuracy and the network
    learns what the linear model misses.

    Args:
        hidden: hidden layer widths of each species' MLP.
        activation: ``silu`` (default), ``tanh``, ``gelu`` or ``softplus``.
        linear: add the linear term (and start from its closed-form fit).
        train_linear: ``False`` keeps the linear term at its closed-form fit (only the
            MLP trains): smooth training curves, as Adam's steps on the linear weights
            move every atom's energy at once; on mlearn (energy weight 1000) it
            ties with the default on Mo's validation split and is worse on Li's and
            Si's (README).
        inputs: what the MLP reads: ``standard`` (the standardised invariants) or
            ``asinh`` of them (tails compressed, see ``INPUTS``).
        rngs: initial weights (``nnx.Rngs``; default seed 0).
        (and the descriptor's arguments, see :class:`DescriptorModel`)
    """

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        hidden: Sequence[int] = (64, 64),
        activation: str = "silu",
        linear: bool = True,
        train_linear: bool = True,
        inputs: str = "standard",
        dtype=None,
        rngs: nnx.Rngs | None = None,
        **descriptor,
    ):
        super().__init__(species=species, cutoff=cutoff, dtype=dtype, **descriptor)
        if inputs not in INPUTS:
            raise ConfigError(
                f"unknown inputs {inputs!r}; choose from {', '.join(INPUTS)}",
                field="model.inputs",
            )
        self.inputs = inputs
        self.train_linear = bool(train_linear)
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        dtype = dtype or jnp.float32
        sizes = [self.n_features, *hidden, 1]
        self.networks = nnx.List(
            [
                MLP(sizes, activation=activation, rngs=rngs, dtype=dtype)
                for _ in range(self.n_species)
            ]
        )
        self.linear = bool(linear)
        if self.linear:
            self.weights = nnx.Param(
                jnp.zeros((self.n_species, self.n_features), dtype)
            )
            for net in self.networks:  # the MLP starts as a zero correction
                last = net.layers[-1]
                last.kernel.value = jnp.zeros_like(last.kernel.value)

    def __call__(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        return self.from_features(graph, self.features(graph, vectors))

    def from_features(self, graph: AtomsGraph, x: jax.Array) -> jax.Array:
        """Per-atom outputs [N] from the standardised invariants ``x`` (what output
        heads read too: the backbone runs once for both)."""
        z = jnp.arcsinh(x) if self.inputs == "asinh" else x
        if self.n_species == 1:
            out = self.networks[0](z)[:, 0]
        else:
            out = jnp.zeros(x.shape[0], x.dtype)
            for s, net in enumerate(self.networks):  # every net on every atom
                out = jnp.where(graph.species == s, net(z)[:, 0], out)
        if self.linear:
            w = self.weights[...]
            if not self.train_linear:  # kept at its closed-form fit
                w = jax.lax.stop_gradient(w)
            out = out + jnp.sum(x * w[graph.species], axis=1)
        return out


class LinearDescriptor(DescriptorModel):
    """Per-atom energies ``w_s . x_i`` (standardised invariants), one weight vector per
    species: fitted in closed form by :func:`matml.train.fit_linear`.

    Args: those of :class:`DescriptorModel` (``rngs`` is accepted and unused: the
    weights start at zero).
    """

    def __init__(
        self,
        *,
        species: Sequence[str],
        cutoff: float,
        dtype=None,
        rngs: nnx.Rngs | None = None,
        **descriptor,
    ):
        super().__init__(species=species, cutoff=cutoff, dtype=dtype, **descriptor)
        self.weights = nnx.Param(
            jnp.zeros((self.n_species, self.n_features), dtype or jnp.float32)
        )

    def __call__(self, graph: AtomsGraph, vectors: jax.Array) -> jax.Array:
        return self.from_features(graph, self.features(graph, vectors))

    def from_features(self, graph: AtomsGraph, x: jax.Array) -> jax.Array:
        """Per-atom outputs [N] from the standardised invariants ``x``."""
        w = self.weights[...][graph.species]  # [N, K]: a gather of rows, few species
        return jnp.sum(x * w, axis=1)
