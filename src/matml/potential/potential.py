"""A potential: any per-atom energy network plus its normalisation and reference energies.

``E = sum_i [scale * model_i + shift + E0[species_i]]``. E0s (per-species reference
energies), shift and scale come from training-set statistics (:mod:`.statistics`), not
typed by hand. They are stored as non-trainable variables, so an optimiser sees only the
network's parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from matml.data.graph import AtomsGraph, edge_vectors
from matml.models import build_model
from matml.nn import Constant
from matml.potential.compiled import precision
from matml.properties import as_records

__all__ = ["Potential", "Constant"]


class Potential(nnx.Module):
    """Energy of structures from a registered model (see :data:`matml.models.MODELS`).

    Args:
        model: registered model name, e.g. ``"pair"``.
        species: chemical symbols the model knows, in index order.
        cutoff: neighbour cutoff, Å.
        model_config: keyword arguments of the model (besides species and cutoff).
        e0: per-species reference energies, eV (defaults to zeros).
        properties: declared properties (:mod:`matml.properties`): an output head
            each.
        energy_trained: whether the energy (and so forces and stress) is fitted;
            ``False`` for a model of other properties alone.
        scale, shift: energy normalisation, eV per atom.
        dtype: float dtype of weights and constants (float64 needs no global flag:
            the arrays are made under :func:`~matml.potential.precision`).
        rngs: initial weights (an ``nnx.Rngs``, or an integer seed); not part of the
            static configuration, so potentials differing only in it share compiled
            functions.
    """

    def __init__(
        self,
        model: str,
        species: Sequence[str],
        cutoff: float,
        model_config: dict | None = None,
        *,
        e0: Sequence[float] | None = None,
        scale: float = 1.0,
        shift: float = 0.0,
        dtype=None,
        rngs: nnx.Rngs | int = 0,
        properties: Sequence = (),
        energy_trained: bool = True,
    ):
        dtype = jnp.dtype(dtype or jnp.float32)
        props = _declared(properties)
        model_config = _keep_head_irreps(model, model_config, props)
        with precision(dtype):
            rngs = self._build(
                model, species, cutoff, model_config, e0, scale, shift, dtype, rngs
            )
            self._build_heads(props, dtype, rngs)
        # False for a model trained on declared properties alone: its energy, forces
        # and stress mean nothing (the calculator and matml.predict leave them out)
        self.energy_trained = bool(energy_trained)

    def _build(
        self, model, species, cutoff, model_config, e0, scale, shift, dtype, rngs
    ):
        if isinstance(rngs, int):
            rngs = nnx.Rngs(rngs)
        self.model_name = model
        self.species = tuple(species)
        self.cutoff = float(cutoff)
        # static attributes must be hashable (they end up in the nnx GraphDef)
        self._model_config = json.dumps(dict(model_config or {}), sort_keys=True)
        self.model = build_model(
            model,
            species=self.species,
            cutoff=self.cutoff,
            dtype=dtype,
            rngs=rngs,
            **self.model_config,
        )
        e0 = jnp.zeros(len(self.species)) if e0 is None else jnp.asarray(e0)
        self.e0 = Constant(e0.astype(dtype))
        self.scale = Constant(jnp.asarray(scale, dtype))
        self.shift = Constant(jnp.asarray(shift, dtype))
        return rngs

    def _build_heads(self, props, dtype, rngs) -> None:
        """One output head per declared property."""
        from matml.errors import ConfigError

        self.properties = props
        if not self.properties:
            self.heads = None
            return
        from matml.models.heads import InvariantHead, PropertyHead

        if hasattr(self.model, "n_features"):  # invariant (descriptor) models
            try:
                self.heads = nnx.List(
                    [InvariantHead(p, self.model.n_features, rngs=rngs, dtype=dtype)
                     for p in self.properties]
                )  # fmt: skip
            except ValueError as err:
                raise ConfigError(str(err), field="properties") from None
            return
        if not hasattr(self.model, "feature_irreps"):
            raise ConfigError(
                f"model {self.model_name!r} has no output heads for properties "
                f"({', '.join(p.name for p in self.properties)}): use nequip, mace "
                "or (for scalars) descriptor",
                field="properties",
            )
        m = self.model
        opts = {
            "max_ell": m.max_ell,
            "n_basis": m.radial.n_basis,
            "radial_hidden": tuple(
                self.model_config.get("radial_hidden", (64, 64, 64))
            ),
            "rngs": rngs,
            "dtype": dtype,
        }
        try:
            self.heads = nnx.List(
                [PropertyHead(p, m.feature_irreps, **opts) for p in self.properties]
            )
        except ValueError as err:
            raise ConfigError(str(err), field="properties") from None

    @property
    def dtype(self):
        return self.scale[...].dtype

    @property
    def model_config(self) -> dict:
        return json.loads(self._model_config)

    def describe(self) -> dict:
        """What is needed to rebuild this potential (everything but the weights)."""
        return {
            "model": self.model_name,
            "species": list(self.species),
            "cutoff": self.cutoff,
            "model_config": self.model_config,
            **({"properties": as_records(self.properties)} if self.properties else {}),
            **({} if self.energy_trained else {"energy_trained": False}),
        }

    def tabulated(self, intervals: int = 1024) -> Potential | None:
        """A copy for inference whose backbone's radial networks are cubic-spline
        tables (:meth:`EquivariantNetwork.tabulate`), or None where the model has
        none. The copy is for evaluation only: :func:`save` and the trainer refuse
        it (:attr:`inference_only`)."""
        if not hasattr(self.model, "tabulate"):
            return None
        copy = nnx.clone(self)
        copy.model.tabulate(intervals)
        return copy

    @property
    def inference_only(self) -> bool:
        """Whether this is a tabulated copy (:meth:`tabulated`), not a trainable,
        savable model."""
        return bool(getattr(self.model, "is_tabulated", False))

    def node_energies(self, graph: AtomsGraph, vectors: jax.Array | None = None):
        """Per-atom energies [N], eV; zero on padding nodes."""
        if vectors is None:
            vectors = edge_vectors(graph)
        return self._energies(self.model(graph, vectors), graph)

    def _energies(self, out: jax.Array, graph: AtomsGraph) -> jax.Array:
        """The model's normalised per-atom outputs in eV, zero on padding."""
        e = self.scale[...] * out + self.shift[...] + self.e0[...][graph.species]
        return jnp.where(graph.node_mask, e, 0.0)

    def outputs(self, graph: AtomsGraph, vectors: jax.Array | None = None):
        """Per-atom energies [N] (eV; zero on padding) and the declared properties'
        values by name (``[G|N|E, *shape]``), from one pass of the backbone."""
        if vectors is None:
            vectors = edge_vectors(graph)
        if not self.properties:
            return self.node_energies(graph, vectors), {}
        if not hasattr(self.model, "feature_irreps"):  # invariant model
            x = self.model.features(graph, vectors)  # one pass for energy and heads
            values = {
                p.name: head(graph, x)
                for p, head in zip(self.properties, self.heads, strict=True)
            }
            return self._energies(self.model.from_features(graph, x), graph), values
        out, (h, ys, radial, avg) = self.model.features(graph, vectors)
        values = {
            p.name: head(graph, h, ys, radial, avg)
            for p, head in zip(self.properties, self.heads, strict=True)
        }
        return self._energies(out, graph), values

    def __call__(self, graph: AtomsGraph, vectors: jax.Array | None = None):
        """Per-structure energies [G], eV."""
        e = self.node_energies(graph, vectors)
        return jax.ops.segment_sum(e, graph.node_graph, graph.num_graphs)


def _declared(properties) -> tuple:
    """Declarations as given, or read from a saved model's records."""
    from matml.properties import parse_properties

    if properties and not all(hasattr(p, "level") for p in properties):
        return parse_properties(list(properties))
    return tuple(properties)


def _keep_head_irreps(model: str, config, props) -> dict:
    """The model config, with an equivariant backbone's last layer keeping its hidden
    irreps (``last_irreps``) when a head needs more than scalars from it."""
    from matml.models import MODELS, model_options
    from matml.models.heads import head_irreps

    config = dict(config or {})
    needs = {str(ir) for p in props for _, ir in head_irreps(p)}
    takes = model in MODELS and "last_irreps" in model_options(model)
    if needs - {"0e"} and takes and "last_irreps" not in config:
        config["last_irreps"] = config.get("hidden_irreps", "0e + 1o")
    return config
