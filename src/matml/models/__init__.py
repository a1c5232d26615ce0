"""Potentials: networks mapping an ``AtomsGraph`` and its edge vectors to per-atom
energies. ``matml.potential`` turns any of them into energies, forces and stress."""

from __future__ import annotations

from matml.models.lennard_jones import LennardJonesModel
from matml.models.pair import PairNetwork

__all__ = ["MODELS", "LennardJonesModel", "PairNetwork", "build_model"]

MODELS: dict[str, type] = {"pair": PairNetwork, "lj": LennardJonesModel}


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
