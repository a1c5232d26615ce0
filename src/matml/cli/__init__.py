"""The ``matml`` command line. Each verb lives in a module of its own here.

Heavy imports (jax, sklearn) happen inside the commands, so ``matml --help`` is quick.
Errors of matml's own (bad input, bad config) are printed on one line and exit 2.
"""

from __future__ import annotations

import importlib
import sys

import typer

app = typer.Typer(
    name="matml",
    help="Machine learning for materials science on JAX.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines ``register(app)``; add a module's name here to add its verbs.
_COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "train",
    "evaluate",
    "predict",
    "data",
    "table",
    "eos",
    "describe",
    "bench",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"matml.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the console script."""
    from matml.errors import MatmlError

    try:
        app()
    except MatmlError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
