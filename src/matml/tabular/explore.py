"""``matml table explore``: summary statistics, correlations, scatter plots, elements.

The course's point: a correlation coefficient alone can mislead (Anscombe's quartet),
so every strong correlation is also shown as a scatter plot.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from matml.errors import InputError
from matml.tabular.reading import load_command_table, parse_formula
from matml.tabular.report import Report, markdown_table

__all__ = ["explore_table", "element_counts"]


def element_counts(formulas) -> Counter:
    """How many formulas contain each element.

    >>> element_counts(["NaCl", "Na2O", "MgO"]).most_common(2)
    [('Na', 2), ('O', 2)]
    """
    counts: Counter = Counter()
    for f in formulas:
        counts.update(el.symbol for el in parse_formula(str(f)).elements)
    return counts


def with_magpie_means(frame, formula_column: str):
    """``frame`` with a column ``mean <property>`` for each varying Magpie mean.

    Returns:
        (the new frame, the names of the added columns).
    """
    from matml.tabular.featurize import MagpieFeatures

    m = MagpieFeatures().fit(frame[[formula_column]])
    values = m.transform(frame[[formula_column]])
    frame = frame.copy()
    added = []
    for j, name in enumerate(m.get_feature_names_out()):
        if name.startswith("MagpieData mean ") and np.ptp(values[:, j]) > 0:
            col = "mean " + name.removeprefix("MagpieData mean ")
            frame[col] = values[:, j]
            added.append(col)
    return frame, added


def _summary_rows(frame, cols) -> list[dict]:
    desc = frame[cols].describe().T
    return [
        {
            "column": c,
            **{
                k: desc.loc[c, k] for k in ("count", "mean", "std", "min", "50%", "max")
            },
        }
        for c in cols
    ]


def _with_target(pearson, spearman, cols, target) -> list[dict]:
    """Each column's correlations with ``target``, strongest (Pearson) first."""
    rows = [
        {
            "column": c,
            "pearson_r": float(pearson.loc[c, target]),
            "spearman_rho": float(spearman.loc[c, target]),
        }
        for c in cols
        if c != target
    ]
    rows.sort(key=lambda r: -abs(r["pearson_r"]) if np.isfinite(r["pearson_r"]) else 0)
    return rows


def _scatter_figure(frame, top: list[dict], target: str):
    """``target`` against each of the ``top`` columns, with both coefficients."""
    from matml.tabular.plots import new_figure

    fig, axes = new_figure(min(len(top), 2), int(np.ceil(len(top) / 2)))
    for ax, row in zip(axes.flat, top, strict=False):
        ax.scatter(
            frame[row["column"]], frame[target], s=6, alpha=0.4, edgecolors="none"
        )
        ax.set_xlabel(row["column"])
        ax.set_ylabel(target)
        ax.set_title(
            f"r = {row['pearson_r']:.3f}, ρ = {row['spearman_rho']:.3f}",
            fontsize=10,
        )
    for ax in list(axes.flat)[len(top) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _elements_section(rep, formulas, echo) -> Counter:
    """Bar chart and table of how many compounds contain each element."""
    from matml.tabular.plots import new_figure

    counts = element_counts(formulas)
    common = counts.most_common(40)
    fig, axes = new_figure(size=(11.0, 3.8))
    ax = axes[0, 0]
    ax.bar([s for s, _ in common], [n for _, n in common], color="tab:green")
    ax.set_ylabel("compounds containing it")
    ax.set_title(f"Element occurrence ({len(counts)} elements; 40 most common shown)")
    ax.tick_params(axis="x", labelsize=8, rotation=90)
    fig.tight_layout()
    rep.section("Elements")
    rep.figure(fig, "elements", "How often each element occurs")
    rep.table([{"element": s, "compounds": n} for s, n in common[:15]])
    echo("most common elements: " + ", ".join(f"{s} {n}" for s, n in common[:10]))
    return counts


def explore_table(
    data: str | os.PathLike,
    target: str,
    out: str | os.PathLike,
    *,
    formula_column: str | None = "auto",
    exclude: tuple[str, ...] = (),
    n_scatter: int = 4,
    magpie: bool = True,
    n_magpie: int = 6,
    echo=print,
) -> dict:
    """Describe a table and how its numeric columns relate to ``target``.

    With a formula column and ``magpie``, the ``n_magpie`` Magpie mean properties
    (atomic number, electronegativity, ...) most correlated with the target join the
    table's own numeric columns in the correlation analysis.
    """
    from matml.tabular.plots import heatmap

    table = load_command_table(
        data, target=target, formula_column=formula_column, exclude=exclude
    )
    frame = table.frame
    if frame[target].dtype == object:
        raise InputError(
            "explore needs a numeric target", file=table.source, field=target
        )
    cols = [c for c in table.numeric_columns if frame[c].nunique() > 1] + [target]
    magpie_cols: list[str] = []
    if table.formula_column is not None and magpie:
        # composition descriptors as candidate explanatory columns: Magpie means
        frame, magpie_cols = with_magpie_means(frame, table.formula_column)
    config = {
        "command": "table explore",
        "data": str(data),
        "target": target,
        "formula_column": table.formula_column,
        "columns": cols,
    }
    rep = Report(out, f"Explore: {Path(str(data)).name}", config, None)
    echo(
        f"{len(frame)} rows, {len(table.drops)} dropped, {len(cols) - 1} numeric columns"
    )
    rep.section("Data")
    rep.text(f"{len(frame)} rows used, {len(table.drops)} dropped.")
    rep.notes(table.notes())
    summary = _summary_rows(frame, cols)
    rep.section("Summary statistics")
    rep.table(summary)
    if magpie_cols:
        r = (
            frame[magpie_cols]
            .corrwith(frame[target])
            .abs()
            .sort_values(ascending=False)
        )
        cols = cols[:-1] + list(r.index[:n_magpie]) + [target]
        echo(
            f"with the Magpie means of the {n_magpie} compositional properties most correlated"
        )
    pearson = frame[cols].corr(method="pearson")
    spearman = frame[cols].corr(method="spearman")
    rep.section("Correlations")
    if magpie_cols:
        rep.text(
            f"Columns `mean ...` are Magpie fraction-weighted means of element properties; "
            f"the {n_magpie} most correlated with the target are shown."
        )
    rep.figure(
        heatmap(pearson.to_numpy(), cols, "Pearson correlation"),
        "pearson",
        "Pearson correlation matrix",
    )
    rep.figure(
        heatmap(spearman.to_numpy(), cols, "Spearman rank correlation"),
        "spearman",
        "Spearman correlation matrix",
    )
    with_target = _with_target(pearson, spearman, cols, target)
    md = markdown_table(with_target)
    echo(f"correlation with {target}:")
    echo(md)
    rep.text(f"Correlation of each column with `{target}`, strongest first:\n\n" + md)
    top = with_target[:n_scatter]
    if top:
        rep.text("R alone can mislead (Anscombe's quartet), so here are the points:")
        rep.figure(
            _scatter_figure(frame, top, target),
            "scatter",
            f"{target} against its most correlated columns",
        )
    counts: Counter = Counter()
    if table.formula_column is not None:
        counts = _elements_section(rep, frame[table.formula_column], echo)
    rep.results = {
        "rows": len(frame),
        "dropped": len(table.drops),
        "correlations": with_target,
        "summary": summary,
        "elements": dict(counts),
    }
    rep.write()
    echo(f"report: {Path(out) / 'report.md'}")
    return rep.results
