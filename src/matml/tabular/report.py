"""Markdown reports with PNG figures and run provenance, written into ``--out DIR``."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from matml._files import atomic_path, write_json, write_provenance

__all__ = ["Report", "markdown_table", "fmt", "progress_bar"]


def fmt(value: Any, digits: int = 4) -> str:
    """Format a number for a table: ``digits`` significant figures, or as text.

    >>> fmt(0.123456), fmt(12345.678), fmt("a"), fmt(3)
    ('0.1235', '1.235e+04', 'a', '3')
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | str):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "nan"
    return f"{x:.{digits}g}"


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A GitHub markdown table of a list of dicts.

    >>> print(markdown_table([{"model": "tree", "mae": 0.5}]))
    | model | mae |
    | --- | --- |
    | tree | 0.5 |
    """
    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


class Report:
    """Collects markdown, tables and figures; :meth:`write` saves ``report.md``.

    Every figure is saved as a PNG beside the report; ``write`` also writes
    ``run.json`` (resolved options, seed, versions) and ``results.json``.

    Args:
        out_dir: the output folder (created by the first file written to it).
        title: the report's heading.
        config: the resolved options of the run.
        seed: the random seed used.
    """

    def __init__(
        self, out_dir: str | os.PathLike, title: str, config: dict, seed: int | None
    ):
        self.out_dir = Path(out_dir)
        self.title = title
        self.config = config
        self.seed = seed
        self.parts: list[str] = []
        self.results: dict[str, Any] = {}
        self.figures: list[str] = []

    def section(self, heading: str) -> None:
        self.parts.append(f"## {heading}\n")

    def text(self, markdown: str) -> None:
        self.parts.append(markdown.rstrip() + "\n")

    def notes(self, lines: list[str]) -> None:
        """A "Data notes" list (the table's drops and imputations), if any."""
        if lines:
            self.text("Data notes:\n\n" + "\n".join(f"- {x}" for x in lines))

    def table(
        self, rows: list[dict[str, Any]], columns: list[str] | None = None
    ) -> None:
        self.parts.append(markdown_table(rows, columns) + "\n")

    def figure(self, fig, name: str, caption: str) -> Path:
        """Save a matplotlib figure as ``name.png`` and link it in the report."""
        from matml._plots import save_figure

        path = save_figure(
            fig,
            self.out_dir / f"{name}.png",
            dpi=110,
            layout=False,
            bbox_inches="tight",
        )
        self.figures.append(path.name)
        self.parts.append(f"![{caption}]({path.name})\n\n*{caption}*\n")
        return path

    def write(self) -> Path:
        """Write ``report.md``, ``results.json`` and ``run.json``; return the report path."""
        opts = "\n".join(f"- `{k}`: {v}" for k, v in self.config.items())
        body = [f"# {self.title}\n", "## Options\n", opts + f"\n- seed: {self.seed}\n"]
        body += self.parts
        from matml._files import versions

        body.append(
            "## Provenance\n\n"
            + ", ".join(f"{k} {v}" for k, v in versions().items())
            + "\n\nResolved options, seed and versions are also in `run.json`.\n"
        )
        path = self.out_dir / "report.md"
        with atomic_path(path) as tmp:
            tmp.write_text("\n".join(body))
        write_json(self.out_dir / "results.json", self.results)
        write_provenance(self.out_dir, self.config, self.seed)
        return path


class progress_bar:  # noqa: N801 - used as a context manager like a function
    """A rich progress bar, or nothing when ``enabled`` is False; call it to advance.

    >>> with progress_bar(2, "demo", enabled=False) as step:
    ...     step()
    """

    def __init__(self, total: int, description: str, enabled: bool = True):
        self.total = total
        self.description = description
        self.enabled = enabled
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total)
        return self

    def __call__(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
