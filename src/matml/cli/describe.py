"""``matml describe``: moment-invariant features of every atom of a structure file."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import typer

_EDGE_MINIMUM = 4096  # edges: the smallest padded size (small files compile once)


def register(app: typer.Typer) -> None:
    """Add the ``describe`` verb to the ``matml`` app."""
    app.command("describe")(describe)


def describe(
    structures: Path = typer.Argument(
        ..., help="Structure file: mlearn JSON, extended XYZ or any ase.io format."
    ),
    out: Path = typer.Option(
        Path("features.npz"), "--out", "-o", help="Output .npz file."
    ),
    cutoff: float = typer.Option(5.0, help="Cutoff radius (Å)."),
    max_order: int = typer.Option(7, "--max-order", "-N", help="Largest order N."),
    max_degree: int = typer.Option(
        4, "--max-degree", "-d", help="Invariant degree 1-4."
    ),
    species: str | None = typer.Option(
        None,
        help="Comma-separated elements, one density channel each (default: "
        "element-blind, every neighbour weighs 1).",
    ),
    density: str = typer.Option("delta", help="delta or gaussian."),
    sigma: float = typer.Option(
        0.4, help="Gaussian width (Å), for --density gaussian."
    ),
    radial: str = typer.Option("zernike", help="zernike, bessel or chebyshev."),
    batch: int = typer.Option(64, help="Structures per jitted call."),
    float64: bool = typer.Option(False, "--float64", help="Compute in float64."),
) -> None:
    """Compute per-atom moment-invariant descriptors and save them as .npz.

    The file holds ``features`` [atoms, F], ``structure`` and ``atom`` (the index of each
    row's structure and of the atom in it), ``symbols``, ``labels`` (one per feature),
    ``counts`` (invariants per degree) and ``config`` (JSON: descriptor settings,
    input file, package versions).
    """
    import jax
    import numpy as np
    from rich.progress import track

    from matml._files import atomic_path, versions
    from matml.descriptors import MomentInvariants
    from matml.errors import InputError
    from matml.io import read, validate_structures

    file = str(structures)
    atoms_list = read(structures)
    if not atoms_list:
        raise InputError("holds no structures", file=file)
    # the checks every command applies (no targets needed here)
    validate_structures(atoms_list, file=file, require=())
    sp = None if species is None else tuple(s.strip() for s in species.split(","))
    desc = MomentInvariants(
        cutoff=cutoff,
        max_order=max_order,
        max_degree=max_degree,
        species=sp,
        density=density,
        sigma=sigma,
        radial=radial,
    )
    dtype = np.float64 if float64 else np.float32
    ctx = jax.enable_x64(True) if float64 else contextlib.nullcontext()
    feats, struct_idx, atom_idx, symbols = [], [], [], []
    starts = range(0, len(atoms_list), batch)
    shapes: list[tuple[int, int, int]] = []  # paddings compiled so far
    with ctx:
        for start in track(starts, description="describing", transient=True):
            chunk = atoms_list[start : start + batch]
            graph = _padded_graph(desc, chunk, file, start, shapes)
            feats.append(desc(graph, dtype=dtype).astype(dtype))
            for k, atoms in enumerate(chunk):
                struct_idx.append(np.full(len(atoms), start + k))
                atom_idx.append(np.arange(len(atoms)))
                symbols += atoms.get_chemical_symbols()
    config = {
        "descriptor": desc.config(),
        "input": str(structures),
        "n_structures": len(atoms_list),
        "versions": versions(),
    }
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(
                fh,
                features=np.concatenate(feats),
                structure=np.concatenate(struct_idx),
                atom=np.concatenate(atom_idx),
                symbols=np.array(symbols),
                labels=np.array(desc.feature_labels()),
                counts=np.array([desc.counts[d] for d in (1, 2, 3, 4)]),
                config=np.array(json.dumps(config)),
            )
    n_atoms = sum(len(a) for a in atoms_list)
    typer.echo(
        f"{n_atoms} atoms of {len(atoms_list)} structures -> {desc.n_features} "
        f"features each -> {out}"
    )


def _padded_graph(desc, chunk, file: str, start: int, shapes: list):
    """The structures of ``chunk`` (entries ``start``...), neighbour-listed once and
    padded to the smallest of the ``shapes`` already compiled that holds them, else to
    a new one (added to ``shapes``): counts rounded up by :func:`matml.data.bucket`,
    nodes to a multiple of the descriptor's block (which it then fills in place)."""
    import numpy as np

    from matml.data import Dataset, bucket, collate, round_up
    from matml.errors import InputError

    try:
        ds = Dataset.from_atoms(chunk, desc.cutoff, desc.species)
    except InputError as err:  # an element not among --species, say
        entry = None if err.entry is None else start + err.entry
        raise InputError(err.message, file=file, entry=entry, field=err.field) from None
    n_node = sum(s.n_node for s in ds.structures) + 1  # one padding node at least
    n_edge = sum(s.n_edge for s in ds.structures)
    n_graph = len(chunk) + 1
    fits = [
        (N, E, G) for N, E, G in shapes if N >= n_node and E >= n_edge and G >= n_graph
    ]
    if fits:
        shape = min(fits)
    else:
        shape = (
            round_up(bucket(n_node, desc.chunk_size), desc.chunk_size),
            bucket(n_edge, _EDGE_MINIMUM),
            max([n_graph] + [G for _, _, G in shapes]),
        )
        shapes.append(shape)
    graph = collate(ds.structures, *shape)
    if desc.species is None:  # element-blind: one channel, every neighbour weighs 1
        graph = graph._replace(species=np.zeros_like(graph.species))
    return graph
