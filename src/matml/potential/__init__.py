"""From any model to energy, forces and stress; normalisers; the saved-model format."""

from matml.potential.autodiff import Predictions, predict
from matml.potential.compiled import precision, predict_fn
from matml.potential.potential import Constant, Potential
from matml.potential.serialization import load, read_header, save
from matml.potential.statistics import (
    fit_e0,
    fit_model_statistics,
    fit_property_statistics,
    fit_scale_shift,
    species_counts,
)

__all__ = [
    "Constant",
    "Potential",
    "Predictions",
    "fit_e0",
    "fit_model_statistics",
    "fit_property_statistics",
    "fit_scale_shift",
    "load",
    "precision",
    "predict",
    "predict_fn",
    "read_header",
    "save",
    "species_counts",
]
