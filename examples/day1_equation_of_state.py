"""Equations of state, as on day one: E(V) curves, polynomial and Birch-Murnaghan fits.

Uses the all-electron (WIEN2k, PBE) curves of the ACWF verification set for a few
elemental crystals, compares our Birch-Murnaghan B0 with the published fit, and then
computes a curve for copper with ASE's EMT calculator.

Run from the repository root::

    python examples/day1_equation_of_state.py [path/to/acwf_unaries_pbe_wien2k_eos.csv]

From the shell::

    matml eos acwf_unaries_pbe_wien2k_eos.csv --system Cu-X/FCC --out eos-cu
    matml eos my_structure.cif --calculator emt --out eos-emt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from ase.build import bulk

from matml.tabular.eos import (
    energies_from_calculator,
    fit_birch_murnaghan,
    fit_polynomial,
    get_calculator,
)
from matml.tabular.eos_report import run_eos

HERE = Path(__file__).resolve().parent
DEFAULT = (
    HERE.parent / ".." / "shared" / "data" / "eos" / "acwf_unaries_pbe_wien2k_eos.csv"
)
SYSTEMS = ("Cu-X/FCC", "Al-X/FCC", "Si-X/Diamond", "W-X/BCC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT))
    parser.add_argument("--out", default="day1-eos")
    args = parser.parse_args()
    table = pd.read_csv(args.data)
    print(
        f"{'system':14} {'B0 poly2':>9} {'poly3':>7} {'poly4':>7} {'BM':>7} {'ref':>7}  GPa"
    )
    for system in SYSTEMS:
        g = table[table.system == system]
        v, e = g.volume_A3.to_numpy(), g.energy_eV.to_numpy()
        polys = [fit_polynomial(v, e, d).b0_gpa for d in (2, 3, 4)]
        bm = fit_birch_murnaghan(v, e)
        print(
            f"{system:14} {polys[0]:9.2f} {polys[1]:7.2f} {polys[2]:7.2f} "
            f"{bm.b0_gpa:7.2f} {g.fit_B0_GPa.iloc[0]:7.2f}"
        )
    # report with plots for one system
    run_eos(args.data, Path(args.out) / "acwf-W", system="W-X/BCC")

    # an E(V) curve computed with a calculator: EMT copper
    v, e = energies_from_calculator(bulk("Cu", "fcc", a=3.6), get_calculator("emt"))
    bm = fit_birch_murnaghan(v, e)
    print(f"EMT Cu: V0 {bm.v0:.3f} Å^3, B0 {bm.b0_gpa:.1f} GPa, B0' {bm.b1:.2f}")


if __name__ == "__main__":
    main()
