"""The saved-model file: one self-describing file holding config and weights.

Layout: the 8 bytes ``MATMLv1\\n``, an 8-byte little-endian header length, a UTF-8 JSON
header (model name and config, species, cutoff, dtype, matml version, anything the trainer
adds such as metrics), then the weights as a msgpack'd pure dict (flax.serialization).
``load`` rebuilds the potential from the header and fills in the weights.
"""

from __future__ import annotations

import json
import struct
from importlib import metadata
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import nnx, serialization

from matml._files import atomic_path
from matml.errors import InputError
from matml.potential.compiled import precision
from matml.potential.potential import Potential

__all__ = ["save", "load", "read_header"]

MAGIC = b"MATMLv1\n"
FORMAT_VERSION = 1  # of the header and weights layout; load refuses newer files


def save(potential: Potential, path, extra: dict | None = None) -> Path:
    """Write ``potential`` to ``path`` (atomically). ``extra`` goes into the header."""
    path = Path(path)
    if getattr(potential, "inference_only", False):
        raise ValueError(
            f"{path}: a tabulated potential (Potential.tabulated, an inference copy) "
            "cannot be saved; save the model it was made from"
        )
    state = nnx.state(potential).to_pure_dict()
    state = _to_numpy(state)
    dtype = str(np.asarray(potential.scale[...]).dtype)
    header = {
        "format": "matml-model",
        "format_version": FORMAT_VERSION,
        "matml_version": _version(),
        **potential.describe(),
        "dtype": dtype,
        "extra": extra or {},
    }
    blob = json.dumps(header).encode()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC)
            fh.write(struct.pack("<Q", len(blob)))
            fh.write(blob)
            fh.write(serialization.msgpack_serialize(state))
    return path


def read_header(path) -> dict:
    """The JSON header of a saved model (no weights are read)."""
    header, _ = _read(path, weights=False)
    return header


def load(path) -> Potential:
    """Rebuild a saved potential; it predicts exactly as the one that was saved."""
    header, weights = _read(path, weights=True)
    dtype = jnp.dtype(header.get("dtype", "float32"))
    config = dict(header.get("model_config", {}))
    config.pop("seed", None)  # files of matml <= 0.1 kept the weights' seed here
    # a float64 model predicts in float64 (thread-locally, see matml.potential.precision)
    with precision(dtype):
        try:
            potential = Potential(
                header["model"],
                header["species"],
                header["cutoff"],
                config,
                dtype=dtype,
                properties=header.get("properties") or (),
                energy_trained=header.get("energy_trained", True),
            )
            state = nnx.state(potential)
            nnx.replace_by_pure_dict(state, _to_jnp(weights))
            nnx.update(potential, state)
        except (KeyError, ValueError, TypeError) as err:
            raise InputError(
                f"weights do not fit the model: {err}", file=path
            ) from None
    return potential


def _read(path, weights: bool):
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, not a model file (model.matml)", file=path)
    if not path.is_file():
        raise InputError("no such model file", file=path)
    with open(path, "rb") as fh:
        magic = fh.read(len(MAGIC))
        if magic != MAGIC:
            raise InputError("not a matml model file (bad magic bytes)", file=path)
        try:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n).decode())
        except (struct.error, ValueError) as err:
            raise InputError(f"corrupt header: {err}", file=path) from None
        version = header.get("format_version", 1) if isinstance(header, dict) else None
        if not isinstance(version, int):
            raise InputError("corrupt header: no integer format_version", file=path)
        if version > FORMAT_VERSION:
            raise InputError(
                f"model format version {version} is newer than this matml reads "
                f"({FORMAT_VERSION}): upgrade matml",
                file=path,
            )
        state = None
        if weights:
            try:
                state = serialization.msgpack_restore(fh.read())
            except Exception as err:  # msgpack raises several kinds
                raise InputError(f"corrupt weights: {err}", file=path) from None
    return header, state


def _version() -> str:
    try:
        return metadata.version("matml")
    except metadata.PackageNotFoundError:
        return "unknown"


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {str(k): _to_numpy(v) for k, v in tree.items()}
    return np.asarray(tree)


def _to_jnp(tree):
    if isinstance(tree, dict):
        return {_key(k): _to_jnp(v) for k, v in tree.items()}
    return jnp.asarray(np.asarray(tree))


def _key(k):
    return int(k) if isinstance(k, str) and k.isdigit() else k
