"""Choose a linearly independent set of invariants, once, and cache it.

Invariants built from different multisets of moment blocks are polynomials in disjoint
sets of monomials, so they are linearly independent of each other; dependence can only
occur among the candidates of one multiset (repeated blocks make some couplings equal,
proportional or zero). For each multiset the candidates are evaluated on random moment
vectors (float64, fixed seed) and a rank-revealing QR with column pivoting keeps a
maximal independent subset. Moments of positive densities fill an open cone of moment
space, so polynomials independent on random vectors are independent as descriptors.

The result depends only on the block structure (radial channels per l) and the maximum
degree; it is kept in memory and written to ``$MATML_CACHE_DIR`` (default
``~/.cache/matml``) so that it is computed once per machine, not at every call.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
import scipy.linalg

from matml.descriptors._coupling import InvariantTables, candidate_tables, plan
from matml.descriptors._invariants import invariants

__all__ = ["independent_tables", "cache_dir"]

_VERSION = "3"


def cache_dir() -> Path:
    """Folder of matml's cached tables (``$MATML_CACHE_DIR`` or ``~/.cache/matml``)."""
    from matml.io.datasets import default_cache_dir

    return default_cache_dir() / "descriptors"


def _select(cand: InvariantTables, seed: int = 0, rtol: float = 1e-8) -> np.ndarray:
    n_per_l = cand.n_per_l
    K = sum(n * (2 * l + 1) for l, n in enumerate(n_per_l))
    if cand.n_features == 0:
        return np.zeros(0, dtype=bool)
    group_sizes = np.bincount(cand.groups)
    S = int(max(64, 2 * group_sizes.max()))
    rng = np.random.default_rng(seed)
    vals = invariants(rng.normal(size=(S, K)), cand, xp=np)  # [S, F]
    norms = np.linalg.norm(vals, axis=0)
    keep = np.zeros(vals.shape[1], dtype=bool)
    order = np.argsort(cand.groups, kind="stable")
    bounds = np.flatnonzero(np.diff(cand.groups[order])) + 1
    scale = np.median(norms[norms > 0]) if np.any(norms > 0) else 1.0
    for cols in np.split(order, bounds):
        ok = cols[norms[cols] > rtol * scale]
        if len(ok) == 0:
            continue
        if len(ok) == 1:
            keep[ok] = True
            continue
        a = vals[:, ok] / norms[ok]
        _, r, piv = scipy.linalg.qr(a, mode="economic", pivoting=True)
        diag = np.abs(np.diag(r))
        rank = int(np.sum(diag > rtol * diag[0]))
        keep[ok[np.sort(piv[:rank])]] = True
    return keep


def _key(n_per_l: tuple[int, ...], max_degree: int) -> str:
    try:
        e3 = metadata.version("e3nn-jax")
    except metadata.PackageNotFoundError:  # pragma: no cover
        e3 = "unknown"
    # the raw layout is part of the key: a change of layout never reuses old rows
    layout = hashlib.sha256(repr(plan(n_per_l, max_degree)).encode()).hexdigest()[:12]
    return (
        f"inv_v{_VERSION}_e3nn{e3}_n{'-'.join(map(str, n_per_l))}_d{max_degree}"
        f"_{layout}"
    )


def _save(path: Path, t: InvariantTables) -> None:
    arrays = {
        "n_per_l": np.asarray(t.n_per_l),
        "max_degree": np.asarray(t.max_degree),
        "rows": t.rows,
        "spec": t.spec,
        "groups": t.groups,
        "labels": np.asarray(t.labels),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _load(path: Path) -> InvariantTables:
    with np.load(path) as z:
        return InvariantTables(
            tuple(int(v) for v in z["n_per_l"]),
            int(z["max_degree"]),
            z["rows"],
            z["spec"].reshape(-1, 6),
            tuple(str(s) for s in z["labels"]),
            z["groups"],
        )


@cache
def independent_tables(
    n_per_l: tuple[int, ...], max_degree: int, use_disk: bool = True
) -> InvariantTables:
    """A linearly independent set of invariants (cached in memory and on disk)."""
    path = cache_dir() / f"{_key(n_per_l, max_degree)}.npz"
    if use_disk and path.exists():
        try:
            tables = _load(path)
            size = plan(tuple(n_per_l), max_degree).size
            if tables.n_per_l == tuple(n_per_l) and np.all(tables.rows < size):
                return tables
        except Exception:  # a corrupt cache file is recomputed, never trusted
            pass
    cand = candidate_tables(n_per_l, max_degree)
    tables = cand.subset(_select(cand))
    if use_disk:
        try:
            _save(path, tables)
        except OSError:  # pragma: no cover - read-only home: keep it in memory only
            pass
    return tables
