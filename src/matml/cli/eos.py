"""``matml eos``: equation-of-state fits (polynomial and Birch-Murnaghan).

The table pipeline takes any ASE calculator; building one from ``--calculator``
(``emt`` or a saved matml model) happens here.
"""

from __future__ import annotations

from pathlib import Path

import typer


def build_calculator(spec: str):
    """An ASE calculator from ``"emt"`` or the path of a saved matml model (lazy import).

    Raises:
        InputError: naming the path (field ``calculator``) when it is neither.
    """
    from matml.errors import InputError

    if spec.lower() == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    path = Path(spec)
    if not path.exists():
        raise InputError(
            "calculator must be 'emt' or the path of a saved matml model",
            file=spec,
            field="calculator",
        )
    import matml
    from matml.calculator import MatmlCalculator

    try:
        return MatmlCalculator(matml.load(path))
    except Exception as err:
        raise InputError(
            f"cannot load model ({type(err).__name__}: {err})",
            file=spec,
            field="calculator",
        ) from None


def eos(
    data: Path = typer.Argument(
        ...,
        help="CSV of volume/energy columns (one curve per 'system'), or structures (any ASE format).",
    ),
    system: str = typer.Option(
        None,
        help="Only this system (CSV 'system' column, or part of a structure's name).",
    ),
    calculator: str = typer.Option(
        None, help="'emt' or the path of a saved matml model (structures input)."
    ),
    degrees: str = typer.Option("2,3,4", help="Polynomial degrees to fit."),
    volume_column: str = typer.Option(
        None, help="Volume column (default: first with 'volume')."
    ),
    energy_column: str = typer.Option(
        None, help="Energy column (default: first with 'energy')."
    ),
    strain: float = typer.Option(0.06, help="Largest volume strain for structures."),
    points: int = typer.Option(9, help="Number of volumes for structures."),
    out: Path = typer.Option(Path("eos"), help="Output folder for report and plots."),
) -> None:
    """Fit E(V) curves: polynomials of degree 2-4 and Birch-Murnaghan (V0, B0 in GPa, B0')."""
    from matml.errors import InputError
    from matml.tabular.eos_report import run_eos

    try:
        degs = tuple(int(d) for d in degrees.split(",") if d.strip())
    except ValueError:
        raise InputError(
            f"--degrees must be integers, got {degrees!r}", file=data, field="degrees"
        ) from None
    run_eos(
        data,
        out,
        system=system,
        calculator=None if calculator is None else build_calculator(calculator),
        calculator_name=calculator,
        degrees=degs,
        volume_column=volume_column,
        energy_column=energy_column,
        strain=strain,
        points=points,
        echo=typer.echo,
    )


def register(app: typer.Typer) -> None:
    """Add the ``eos`` verb."""
    app.command(name="eos")(eos)
