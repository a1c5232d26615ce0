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


__all__ = ["__version__", "load"]
