"""Atomic file output and run provenance (resolved config, seed, versions)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path",
    "remove_temporaries",
    "write_json",
    "versions",
    "write_provenance",
]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    Nothing half-written is left behind: on an exception the temporary file is removed
    and ``path`` keeps its previous content (or stays absent).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files :func:`atomic_path` left in ``folder`` when its
    process was killed mid-write; returns what was removed."""
    removed = []
    for p in Path(folder).glob(".*.tmp*"):
        if p.is_file():
            p.unlink()
            removed.append(p)
    return removed


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_default))


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


_PACKAGES = (
    "matml",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "e3nn-jax",
    "ase",
    "vesin",
    "numpy",
    "scikit-learn",
    "pymatgen",
)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a matml result depends on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def write_provenance(
    out_dir: str | os.PathLike, config: dict, seed: int | None
) -> Path:
    """Write ``run.json`` (resolved config, seed, versions, host) into ``out_dir``."""
    path = Path(out_dir) / "run.json"
    write_json(
        path,
        {
            "config": config,
            "seed": seed,
            "versions": versions(),
            "platform": platform.platform(),
        },
    )
    return path
