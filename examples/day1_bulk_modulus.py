"""Day one of the course on a Materials Project table: the bulk modulus K_VRH.

Retraces the course by hand, with matml doing the bookkeeping: look at the data,
find what correlates with the bulk modulus (and plot it), featurise compositions
(element fractions and Magpie statistics), cross-validate a ladder of models, reduce
the features (PCA, autoencoder) and cluster the compounds.

Run from the repository root (takes a few minutes on 2 cores)::

    python examples/day1_bulk_modulus.py [path/to/mp_elastic.csv] [--out OUT]

The same steps from the shell::

    matml table explore mp_elastic.csv --target K_VRH_GPa --out day1/explore
    matml table fit mp_elastic.csv --target K_VRH_GPa --exclude G_VRH_GPa --out day1/fit
    matml table reduce mp_elastic.csv --target K_VRH_GPa --exclude G_VRH_GPa --out day1/reduce
    matml table cluster mp_elastic.csv --exclude G_VRH_GPa,K_VRH_GPa --out day1/cluster
"""

from __future__ import annotations

import argparse
from pathlib import Path

from matml.tabular.cluster import cluster_table
from matml.tabular.explore import explore_table
from matml.tabular.fit import fit_table, predict_table
from matml.tabular.reduce import reduce_table

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent / ".." / "shared" / "data" / "tables" / "mp_elastic.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT))
    parser.add_argument("--out", default="day1")
    args = parser.parse_args()
    out = Path(args.out)
    target = "K_VRH_GPa"

    # 1. Look first: statistics, correlations, and the scatter plots behind them.
    explore_table(args.data, target, out / "explore")

    # 2. Models from composition (Magpie + fractions) and the structural columns.
    #    The shear modulus is left out: it is measured with the target, not before.
    fit = fit_table(args.data, target, out / "fit", exclude=("G_VRH_GPa",), cv=5)
    print(f"best model {fit['best']}: MAE {fit['metrics'][fit['best']]['mae']:.1f} GPa")

    # 3. The saved pipeline predicts straight from a table of formulas.
    predict_table(out / "fit" / "model.joblib", args.data, out / "predict")

    # 4. How many dimensions do the features really have? Linear fits on all of
    #    them, on 5 principal components and on a 5-number autoencoder code.
    reduce_table(args.data, out / "reduce", target=target, k=5, exclude=("G_VRH_GPa",))

    # 5. Groups of similar compounds (without looking at the moduli).
    cluster_table(args.data, out / "cluster", exclude=("G_VRH_GPa", target))


if __name__ == "__main__":
    main()
