"""matml: machine learning for materials science on JAX.

>>> import matml
>>> matml.__version__ != ""
True
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("matml")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"


def load(path):
    """Load a saved potential (see :func:`matml.potential.load`)."""
    from matml.potential import load as _load

    return _load(path)


def predict(model, atoms, *, batch_size: int = 8) -> dict:
    """Energy, forces, stress and every declared property of ``model`` (a potential
    or a saved model's path) on one structure or a list (see :mod:`matml.prediction`)."""
    from matml.prediction import predict as _predict

    return _predict(model, atoms, batch_size=batch_size)


__all__ = ["__version__", "load", "predict"]
