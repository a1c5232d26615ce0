"""``matml describe``: moment-invariant features of every atom of a structure file."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``describe`` verb to the ``matml`` app."""
    app.command("describe")(describe)


def _bucket(n: int, base: int) -> int:
    """Round up to base * 2^k, so that a few shapes cover every batch."""
    size = base
    while size < n:
        size *= 2
    return size


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
    from matml.io import read

    atoms_list = read(structures)
    if not atoms_list:
        raise InputError("holds no structures", file=str(structures))
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
    ctx = jax.enable_x64(True) if float64 else _null()
    feats, struct_idx, atom_idx, symbols = [], [], [], []
    starts = range(0, len(atoms_list), batch)
    with ctx:
        for start in track(starts, description="describing", transient=True):
            chunk = atoms_list[start : start + batch]
            tight = desc.graph(chunk)
            n_node = _bucket(int(np.sum(tight.node_mask)) + 1, desc.chunk_size)
            n_edge = _bucket(int(np.sum(tight.edge_mask)), 4096)
            try:
                graph = desc.graph(
                    chunk, n_node=n_node, n_edge=n_edge, n_graph=len(chunk) + 1
                )
            except InputError as err:
                raise InputError(
                    err.message, file=str(structures), entry=err.entry, field=err.field
                ) from None
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


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
