"""Potentials: networks mapping an ``AtomsGraph`` and its edge vectors to per-atom
energies. ``matml.potential`` turns any of them into energies, forces and stress."""

from __future__ import annotations

from matml.models.descriptor import DescriptorNetwork, LinearDescriptor
from matml.models.equivariant import EquivariantNetwork, MACENetwork, NequIPNetwork
from matml.models.lennard_jones import LennardJonesModel
from matml.models.pair import PairNetwork

__all__ = [
    "MODELS",
    "DescriptorNetwork",
    "EquivariantNetwork",
    "MACENetwork",
    "NequIPNetwork",
    "LennardJonesModel",
    "LinearDescriptor",
    "PairNetwork",
    "build_model",
    "model_options",
]

MODELS: dict[str, type] = {
    "pair": PairNetwork,
    "lj": LennardJonesModel,
    "descriptor": DescriptorNetwork,
    "linear": LinearDescriptor,
    "nequip": NequIPNetwork,
    "mace": MACENetwork,
}


def model_options(name: str) -> set[str]:
    """The configuration keys the model registered as ``name`` accepts (its own and
    those it passes on to its base classes)."""
    import inspect

    known: set[str] = set()
    for cls in MODELS[name].__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        known |= {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return known - {"species", "cutoff", "dtype", "rngs"}


def build_model(name: str, **config):
    """Instantiate the model registered as ``name`` with keyword ``config``."""
    from matml.errors import ConfigError

    try:
        cls = MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; choose one of {', '.join(MODELS)}",
            field="model.name",
        ) from None
    try:
        return cls(**config)
    except TypeError as err:
        raise ConfigError(str(err), field=f"model ({name})") from None
