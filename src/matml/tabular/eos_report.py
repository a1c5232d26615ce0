"""``matml eos``: fit equations of state from a CSV or from structures + a calculator.

The calculator is any ASE calculator object (EMT by default); building matml's own
from a saved model is the CLI's job (:mod:`matml.cli.eos`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from matml.errors import InputError
from matml.tabular.eos import (
    energies_from_calculator,
    fit_birch_murnaghan,
    fit_polynomial,
)
from matml.tabular.report import Report, markdown_table

__all__ = ["eos_curves_from_table", "eos_curves_from_structures", "run_eos"]


def _pick(columns, words, given, what, src):
    if given is not None:
        if given not in columns:
            raise InputError("no such column", file=src, field=given)
        return given
    for c in columns:
        if any(w in c.lower() for w in words) and not c.lower().startswith("fit_"):
            return c
    raise InputError(
        f"no {what} column found (name it with {'/'.join(words)} or pass --{what}-column)",
        file=src,
    )


def eos_curves_from_table(path, system=None, volume_column=None, energy_column=None):
    """``{system: (volumes, energies, reference)}`` from a CSV (one curve per ``system``).

    ``reference`` holds ``fit_V0_A3``/``fit_B0_GPa``/``fit_B1`` when the table has them
    (as the ACWF verification data), else is empty. Non-numeric rows are dropped.
    """
    import pandas as pd

    from matml.tabular.reading import read_table

    src = str(path)
    frame = read_table(path)
    vcol = _pick(frame.columns, ("volume",), volume_column, "volume", src)
    ecol = _pick(frame.columns, ("energy",), energy_column, "energy", src)
    for col in (vcol, ecol):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame = frame.dropna(subset=[vcol, ecol])
    group = "system" if "system" in frame.columns else None
    if system is not None:
        if group is None:
            raise InputError(
                "--system given but the table has no 'system' column", file=src
            )
        frame = frame[frame[group] == system]
        if frame.empty:
            raise InputError(f"no rows for system {system!r}", file=src, field="system")
    curves = {}
    for name, g in (
        frame.groupby(group, sort=False) if group else [(Path(src).stem, frame)]
    ):
        ref = {}
        for key, col in (
            ("v0", "fit_V0_A3"),
            ("b0_gpa", "fit_B0_GPa"),
            ("b1", "fit_B1"),
        ):
            if col in g.columns and pd.notna(g[col].iloc[0]):
                ref[key] = float(g[col].iloc[0])
        curves[str(name)] = (g[vcol].to_numpy(float), g[ecol].to_numpy(float), ref)
    return curves


def _why(err: Exception) -> str:
    """``Type: message``, or the type alone when the message is empty."""
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def eos_curves_from_structures(path, calculator=None, strain=0.06, points=9):
    """Curves for each structure of an ASE-readable file, scaled and computed.

    Args:
        path: the structures (any format ``ase.io.read`` knows).
        calculator: any ASE calculator; ``None``: ASE's EMT.
        strain, points: see :func:`~matml.tabular.eos.energies_from_calculator`.

    Raises:
        InputError: naming the file and the structure (entry) when a structure cannot
            be read, has no 3D cell, or its calculation fails.
    """
    from ase.io import read

    src = str(path)
    try:
        images = read(src, index=":")
    except Exception as err:
        raise InputError(f"cannot read structures ({_why(err)})", file=src) from None
    from matml.io import validate_structures

    validate_structures(images, file=src, require=())  # the rule every command applies
    if calculator is None:
        from ase.calculators.emt import EMT

        calculator = EMT()
    elif isinstance(calculator, str | os.PathLike):
        raise TypeError(
            "calculator must be an ASE calculator object, not a name or path "
            "(matml.cli.eos.build_calculator builds one from 'emt' or a saved model)"
        )
    curves = {}
    for i, atoms in enumerate(images):
        if atoms.cell.rank < 3:
            raise InputError("structure has no full 3D cell", file=src, entry=i)
        try:
            v, e = energies_from_calculator(atoms, calculator, strain, points)
        except InputError as err:
            # the calculator's own "where" (a formula) gives way to file and entry
            raise InputError(err.message, file=src, entry=i, field=err.field) from None
        except Exception as err:
            # any ASE calculator may fail its own way: say where, in one line
            raise InputError(
                f"calculator failed on {atoms.get_chemical_formula()} ({_why(err)})",
                file=src,
                entry=i,
            ) from None
        curves[f"{i}:{atoms.get_chemical_formula()}"] = (v, e, {})
    return curves


def _plot(name, v, e, fits):
    from matml.tabular.plots import new_figure

    fig, axes = new_figure(size=(5.5, 4.2))
    ax = axes[0, 0]
    grid = np.linspace(v.min() - 0.03 * np.ptp(v), v.max() + 0.03 * np.ptp(v), 200)
    e_ref = min(e)
    ax.plot(v, (e - e_ref) * 1000, "ko", label="data")
    for f in fits:
        label = f"{f.kind}: B0 {f.b0_gpa:.1f} GPa"
        ax.plot(
            grid,
            (f.energy(grid) - e_ref) * 1000,
            "-" if f.kind == "birch-murnaghan" else "--",
            lw=1.2,
            label=label,
        )
    ax.set_xlabel("volume (Å³)")
    ax.set_ylabel(f"E − E_min (meV); E_min = {e_ref:.4f} eV")
    ax.set_title(name)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_eos(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    system: str | None = None,
    calculator=None,
    calculator_name: str | None = None,
    degrees=(2, 3, 4),
    volume_column: str | None = None,
    energy_column: str | None = None,
    strain: float = 0.06,
    points: int = 9,
    max_plots: int = 6,
    echo=print,
) -> dict:
    """Fit polynomials and Birch-Murnaghan to each E(V) curve; report and plots.

    Args:
        data: a CSV/JSON table of volume and energy columns, or structures.
        calculator: any ASE calculator for structures (``None``: EMT); a table is
            read as structures when a calculator is given.
        calculator_name: how the report names the calculator (default: its ``name``).
    """
    path = Path(data)
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    is_table = path.name.lower().removesuffix(".gz").endswith((".csv", ".json"))
    if is_table and calculator is None:
        curves = eos_curves_from_table(path, system, volume_column, energy_column)
        source = "table"
    else:
        curves = eos_curves_from_structures(path, calculator, strain, points)
        if system is not None:
            curves = {k: c for k, c in curves.items() if system in k}
        label = calculator_name or getattr(calculator, "name", None) or "emt"
        source = f"structures + {label}"
    config = {
        "command": "eos",
        "data": str(data),
        "source": source,
        "system": system,
        "degrees": list(degrees),
        "strain": strain,
        "points": points,
    }
    rep = Report(out, f"Equations of state: {path.name}", config, None)
    rows, results = [], {}
    for k, (name, (v, e, ref)) in enumerate(curves.items()):
        try:
            fits = [fit_polynomial(v, e, d) for d in degrees] + [
                fit_birch_murnaghan(v, e)
            ]
        except InputError as err:
            raise InputError(
                err.message, file=str(data), entry=name, field=err.field
            ) from None
        bm = fits[-1]
        row = {
            "system": name,
            "V0 (Å³)": bm.v0,
            "B0 (GPa)": bm.b0_gpa,
            "B0'": bm.b1,
            "E0 (eV)": bm.e0,
        }
        for f in fits[:-1]:
            row[f"B0 {f.kind}"] = f.b0_gpa
        if "b0_gpa" in ref:
            row["B0 ref"] = ref["b0_gpa"]
            row["B0 error %"] = 100 * (bm.b0_gpa / ref["b0_gpa"] - 1)
        rows.append(row)
        results[name] = {
            "fits": [f.as_dict() for f in fits],
            "reference": ref,
            "volumes": v.tolist(),
            "energies": e.tolist(),
        }
        if not bm.bracketed:
            rep.text(f"Warning: {name}: the fitted V0 lies outside the volumes given.")
        if k < max_plots:
            safe = "".join(ch if ch.isalnum() else "_" for ch in name)
            rep.figure(
                _plot(name, v, e, fits), f"eos_{safe}", f"E(V) of {name} with its fits"
            )
    md = markdown_table(rows)
    echo(md)
    rep.section("Fits")
    rep.text(
        f"{len(rows)} curve(s) from {source}. B0 in GPa; Birch-Murnaghan third order.\n\n"
        + md
    )
    rep.results = results
    rep.write()
    echo(f"report: {Path(out) / 'report.md'}")
    return results
