"""The mlearn benchmark data: from a local folder, or downloaded once into a cache.

``fetch_mlearn("Si")`` returns the path of ``Si/training.json``: taken from a local
folder when one is given (``data_dir=`` or the environment variable
``MATML_DATA_DIR``), otherwise downloaded from the upstream repository into
``~/.cache/matml/mlearn`` (``cache_dir=`` or ``MATML_CACHE_DIR``). Every file is
checked: valid JSON, well-formed entries of the right element, and the numbers of
structures and atoms published with the data (:data:`MLEARN_COUNTS`). A download goes
to a temporary name and is renamed only after it passes, so nothing truncated is left.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from ase import Atoms

from matml._files import atomic_path
from matml.errors import InputError
from matml.io._json import iter_json_list
from matml.io.mlearn import read_mlearn

__all__ = [
    "MLEARN_URL",
    "MLEARN_COUNTS",
    "MLEARN_SPLITS",
    "fetch_mlearn",
    "load_mlearn",
    "check_mlearn_file",
    "default_cache_dir",
]

MLEARN_URL = "https://raw.githubusercontent.com/materialsvirtuallab/mlearn/master/data"
"""Upstream folder; ``<El>/<split>.json`` below it (override: ``MATML_MLEARN_URL``)."""

MLEARN_SPLITS: dict[str, tuple[str, ...]] = {
    "Cu": ("test",),
    "Ge": ("training", "test"),
    "Li": ("training", "test"),
    "Mo": ("training", "test"),
    "Ni": ("test",),
    "Si": ("training", "test"),
}
"""The files upstream holds per element (Cu and Ni have no training set there)."""

MLEARN_COUNTS: dict[tuple[str, str], tuple[int, int]] = {
    ("Li", "training"): (241, 11576),
    ("Li", "test"): (29, 1320),
    ("Mo", "training"): (194, 10087),
    ("Mo", "test"): (23, 1189),
    ("Si", "training"): (214, 13233),
    ("Si", "test"): (25, 1525),
    ("Cu", "test"): (31, 3178),
    ("Ni", "test"): (31, 3158),
}
"""(structures, atoms) per file, as published; Ge's are not known here (not checked)."""


def default_cache_dir() -> Path:
    """matml's cache folder: ``$MATML_CACHE_DIR`` if set, else ``~/.cache/matml``.

    The one place that reads ``MATML_CACHE_DIR``; each cache takes a subfolder of it
    (``mlearn/`` for downloads, ``descriptors/`` for invariant tables). Read at each
    call, so a changed environment takes effect.
    """
    env = os.environ.get("MATML_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "matml"


def _element(element: str) -> str:
    el = element.strip().capitalize()
    if el not in MLEARN_SPLITS:
        raise InputError(
            f"mlearn has no element {element!r}; available: "
            + ", ".join(sorted(MLEARN_SPLITS)),
            field="element",
        )
    return el


def _normalise(element: str, split: str) -> tuple[str, str]:
    el = _element(element)
    if split not in ("training", "test"):
        raise InputError(
            f"split must be 'training' or 'test', not {split!r}", field="split"
        )
    if split not in MLEARN_SPLITS[el]:
        raise InputError(
            f"mlearn has no {split} set for {el} (only: "
            + ", ".join(MLEARN_SPLITS[el])
            + ")",
            field="split",
        )
    return el, split


def check_mlearn_file(
    path: str | os.PathLike, element: str, split: str
) -> tuple[int, int]:
    """Check an mlearn file: valid JSON, entries of ``element``, published counts.

    Returns:
        The numbers of structures and of atoms in the file.

    Raises:
        InputError: naming the file (and the entry, for a bad entry).
    """
    file = str(path)
    n_struct = n_atoms = 0
    for entry, item in enumerate(iter_json_list(path)):
        try:
            n = len(item["structure"]["sites"])
        except (KeyError, TypeError):
            raise InputError(
                "not an mlearn entry (no structure sites)",
                file=file,
                entry=entry,
                field="structure",
            ) from None
        if item.get("num_atoms", n) != n:
            raise InputError(
                f"num_atoms is {item['num_atoms']} but the structure has {n} sites",
                file=file,
                entry=entry,
                field="num_atoms",
            )
        if item.get("element", element) != element:
            raise InputError(
                f"element is {item['element']!r}, expected {element!r}",
                file=file,
                entry=entry,
                field="element",
            )
        n_struct += 1
        n_atoms += n
    expected = MLEARN_COUNTS.get((element, split))
    if expected is not None and (n_struct, n_atoms) != expected:
        raise InputError(
            f"holds {n_struct} structures and {n_atoms} atoms, expected "
            f"{expected[0]} and {expected[1]} for mlearn {element} {split} "
            "(truncated or not the published file)",
            file=file,
        )
    return n_struct, n_atoms


def _local(data_dir: Path, el: str, split: str) -> Path:
    candidates = [
        data_dir / el / f"{split}.json",
        data_dir / "mlearn" / el / f"{split}.json",
    ]
    if data_dir.name == el:  # pointed straight at the element folder
        candidates.insert(0, data_dir / f"{split}.json")
    for path in candidates:
        if path.is_file():
            return path
    raise InputError(
        f"no {el}/{split}.json in this data folder (looked for "
        + ", ".join(str(p) for p in candidates)
        + ")",
        file=str(data_dir),
    )


def _download(url: str, dest: Path, el: str, split: str, timeout: float) -> None:
    with atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                with open(tmp, "wb") as fh:
                    while chunk := response.read(1 << 16):
                        fh.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as err:
            if isinstance(err, urllib.error.HTTPError):
                reason = f"HTTP {err.code} {err.reason}"
            else:
                reason = getattr(err, "reason", None) or err
            raise InputError(
                f"download failed ({reason}); give a local copy with --data-dir "
                "or MATML_DATA_DIR",
                file=url,
            ) from None
        try:
            check_mlearn_file(tmp, el, split)
        except InputError as err:
            raise InputError(
                f"downloaded file rejected: {err.message}",
                file=url,
                entry=err.entry,
                field=err.field,
            ) from None


def fetch_mlearn(
    element: str,
    split: str = "training",
    *,
    data_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Return the path of a checked mlearn file, downloading it if needed.

    Args:
        element: ``"Li"``, ``"Mo"``, ``"Si"``, ``"Ge"``, ``"Cu"`` or ``"Ni"``.
        split: ``"training"`` or ``"test"`` (Cu and Ni have only ``"test"``).
        data_dir: a local folder holding ``<El>/<split>.json`` (or ``mlearn/<El>/``,
            or the element folder itself); default ``$MATML_DATA_DIR``. When given,
            nothing is downloaded.
        cache_dir: where downloads are kept (in ``mlearn/<El>/``); default
            :func:`default_cache_dir`.
        base_url: the upstream folder; default ``$MATML_MLEARN_URL`` or
            :data:`MLEARN_URL`.
        timeout: seconds to wait for the server.

    Returns:
        The path of the file, after it passed :func:`check_mlearn_file`.

    Raises:
        InputError: unknown element or split, missing local file, failed download,
            or a file that fails its check (a failed download leaves no file).
    """
    el, split = _normalise(element, split)
    data_dir = data_dir or os.environ.get("MATML_DATA_DIR") or None
    if data_dir is not None:
        path = _local(Path(data_dir).expanduser(), el, split)
        check_mlearn_file(path, el, split)
        return path
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    dest = root / "mlearn" / el / f"{split}.json"
    if dest.is_file():
        try:
            check_mlearn_file(dest, el, split)
            return dest
        except InputError:
            dest.unlink()  # a bad cached copy: fetch it again
    base = (base_url or os.environ.get("MATML_MLEARN_URL") or MLEARN_URL).rstrip("/")
    _download(f"{base}/{el}/{split}.json", dest, el, split, timeout)
    return dest


def load_mlearn(element: str, split: str = "training", **kwargs) -> list[Atoms]:
    """Fetch (see :func:`fetch_mlearn`) and read an mlearn file.

    ``split="all"`` reads every split upstream holds for the element, training first.

    >>> atoms = load_mlearn("Cu", "test")  # doctest: +SKIP
    >>> len(atoms), atoms[0].info["group"]  # doctest: +SKIP
    (31, 'AIMD-NVT')
    """
    if split == "all":
        el = _element(element)
        return [a for s in MLEARN_SPLITS[el] for a in load_mlearn(el, s, **kwargs)]
    return read_mlearn(fetch_mlearn(element, split, **kwargs))
