"""``matml data``: fetch benchmark data sets and summarise structure files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from matml import keys
from matml.io.validate import MIN_DISTANCE


def register(app: typer.Typer) -> None:
    """Add the ``data`` verb group to the ``matml`` app."""
    data_app = typer.Typer(
        help="Data sets: download and check them, summarise structure files.",
        no_args_is_help=True,
    )
    data_app.command("fetch")(fetch)
    data_app.command("info")(info)
    data_app.command("prepare")(prepare)
    app.add_typer(data_app, name="data")


def fetch(
    dataset: str = typer.Argument(..., help="The data set; only 'mlearn' for now."),
    element: str = typer.Option(
        ..., "--element", "-e", help="Element: Li, Mo, Si, Ge, Cu or Ni."
    ),
    split: str = typer.Option(
        "all", "--split", "-s", help="training, test, or all (what upstream holds)."
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Local folder holding <El>/<split>.json; nothing is downloaded. "
        "Default: $MATML_DATA_DIR.",
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        help="Where downloads are kept. Default: $MATML_CACHE_DIR or ~/.cache/matml.",
    ),
) -> None:
    """Download (or locate) a benchmark data set, check it, and print where it is.

    Example: matml data fetch mlearn --element Si
    """
    from matml.errors import InputError
    from matml.io.datasets import MLEARN_SPLITS, check_mlearn_file, fetch_mlearn

    if dataset.lower() != "mlearn":
        raise InputError(f"unknown data set {dataset!r}; available: mlearn")
    el = element.strip().capitalize()
    if split == "all":
        splits = MLEARN_SPLITS.get(el, ("training",))
    else:
        splits = (split,)
    for s in splits:
        path = fetch_mlearn(el, s, data_dir=data_dir, cache_dir=cache_dir)
        n_struct, n_atoms = check_mlearn_file(path, el, s)
        typer.echo(
            f"mlearn {el} {s}: {n_struct} structures, {n_atoms:,} atoms, "
            f"checked -> {path}"
        )


def info(
    file: Path = typer.Argument(
        ..., help="A structure file (mlearn JSON, extxyz, ...)."
    ),
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="mlearn, extxyz or an ase.io format (default: guess).",
    ),
    energy_key: str = typer.Option(keys.EXTXYZ_ENERGY, help="Energy key (extxyz)."),
    forces_key: str = typer.Option(keys.EXTXYZ_FORCES, help="Forces key (extxyz)."),
    stress_key: str = typer.Option(keys.EXTXYZ_STRESS, help="Stress key (extxyz)."),
    check: bool = typer.Option(
        True,
        help=f"Validate: finite values, sane cells, no atoms closer than "
        f"{MIN_DISTANCE} Å.",
    ),
) -> None:
    """Print counts, species, energy and force ranges of a structure file.

    Example: matml data info ../shared/data/mlearn/Si/test.json
    """
    import numpy as np

    from matml.errors import InputError
    from matml.io import read, validate_structures

    atoms = read(
        file,
        format=format,
        energy_key=energy_key,
        forces_key=forces_key,
        stress_key=stress_key,
    )
    if not atoms:
        raise InputError("holds no structures", file=str(file))
    if check:
        validate_structures(atoms, file=file, require=())
    sizes = np.array([len(a) for a in atoms])
    species = Counter(s for a in atoms for s in a.get_chemical_symbols())
    lines = [
        f"file        {file}",
        f"structures  {len(atoms)}",
        f"atoms       {int(sizes.sum()):,} (per structure {sizes.min()} to {sizes.max()})",
        "species     " + ", ".join(f"{k} {v:,}" for k, v in sorted(species.items())),
    ]
    with_e = [a for a in atoms if keys.ENERGY in a.info]
    if with_e:
        e = np.array([a.info[keys.ENERGY] for a in with_e])
        epa = e / np.array([len(a) for a in with_e])
        lines.append(
            f"energy      {len(with_e)} structures, {e.min():.4f} to {e.max():.4f} eV "
            f"({epa.min():.4f} to {epa.max():.4f} eV/atom)"
        )
    else:
        lines.append("energy      none")
    with_f = [a.arrays[keys.FORCES] for a in atoms if keys.FORCES in a.arrays]
    if with_f:
        fmax = max(float(np.abs(f).max()) for f in with_f)
        lines.append(
            f"forces      {len(with_f)} structures, max |component| {fmax:.3f} eV/Å"
        )
    else:
        lines.append("forces      none")
    with_s = [a.info[keys.STRESS] for a in atoms if keys.STRESS in a.info]
    if with_s:
        gpa = np.asarray(with_s) * keys.EV_PER_A3_TO_GPA
        lines.append(
            f"stress      {len(with_s)} structures, {gpa.min():.2f} to "
            f"{gpa.max():.2f} GPa (ASE sign)"
        )
    else:
        lines.append("stress      none")
    groups = Counter(a.info.get(keys.GROUP) for a in atoms if keys.GROUP in a.info)
    if groups:
        lines.append("groups      " + ", ".join(f"{k} {v}" for k, v in groups.items()))
    if check:
        lines.append(f"checked     ok (finite, cells, distances >= {MIN_DISTANCE} Å)")
    typer.echo("\n".join(lines))


def prepare(
    files: list[Path] = typer.Argument(
        ..., help="Structure files (mlearn JSON, extxyz, ...), read one at a time."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The store (a new folder)."),
    cutoff: float = typer.Option(
        5.0, help="Neighbour-list cutoff, Å: the model's model.cutoff."
    ),
    format: str | None = typer.Option(
        None, "--format", "-f", help="mlearn, extxyz or an ase.io format."
    ),
    energy_key: str = typer.Option(keys.EXTXYZ_ENERGY, help="Energy key (extxyz)."),
    forces_key: str = typer.Option(keys.EXTXYZ_FORCES, help="Forces key (extxyz)."),
    stress_key: str = typer.Option(keys.EXTXYZ_STRESS, help="Stress key (extxyz)."),
    overwrite: bool = typer.Option(False, help="Replace an existing store."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Neighbour-list structure files once into a graph store on disk, for training
    on data sets larger than memory (set data.train to the store's folder).

    Example: matml data prepare train_*.xyz --out train.store --cutoff 5.0
    """
    from matml.data.store import prepare_store

    store = prepare_store(
        files,
        out,
        cutoff,
        format=format,
        overwrite=overwrite,
        progress=progress,
        energy_key=energy_key,
        forces_key=forces_key,
        stress_key=stress_key,
    )
    h = store.header
    size = sum(f["bytes"] for f in h["files"].values())
    typer.echo(
        f"store {out}: {h['n_structures']:,} structures, {h['n_atoms']:,} atoms, "
        f"{h['n_edges']:,} edges (cutoff {h['cutoff']} Å), species "
        f"{', '.join(h['species'])}, {size / 2**20:.1f} MiB"
    )
