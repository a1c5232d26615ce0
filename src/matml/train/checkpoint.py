"""Checkpoints of the whole training state, written atomically each epoch.

Arrays are stored as a flat list of leaves (numpy); on restore they are put back into
the tree structure of a freshly initialised state, so optimiser states of any optax
chain round-trip exactly.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import jax
import numpy as np

from matml._files import atomic_path
from matml.errors import InputError

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint_meta"]


def save_checkpoint(path, trees: dict[str, Any], meta: dict) -> None:
    payload = {
        "meta": meta,
        "leaves": {
            k: [np.asarray(x) for x in jax.tree_util.tree_leaves(v)]
            for k, v in trees.items()
        },
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)


def read_checkpoint_meta(path) -> dict:
    """The metadata (epoch, step, ...) of a checkpoint, without building its trees."""
    return _read(Path(path))["meta"]


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except FileNotFoundError:
        raise InputError("no checkpoint to resume from", file=path) from None
    except Exception as err:
        raise InputError(f"corrupt checkpoint: {err}", file=path) from None


def load_checkpoint(path, templates: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """Restore trees shaped like ``templates``; returns ``(trees, meta)``."""
    path = Path(path)
    payload = _read(path)
    trees = {}
    for k, template in templates.items():
        leaves, treedef = jax.tree_util.tree_flatten(template)
        saved = payload["leaves"].get(k)
        if saved is None or len(saved) != len(leaves):
            raise InputError(
                "checkpoint does not match the model and optimiser of this config",
                file=path,
                field=k,
            )
        trees[k] = jax.tree_util.tree_unflatten(
            treedef,
            [
                jax.numpy.asarray(s, dtype=t.dtype)
                for s, t in zip(saved, leaves, strict=True)
            ],
        )
    return trees, payload["meta"]
