"""The ``manifold-search`` command.

Subcommands live in their own modules: each module in :data:`COMMAND_MODULES`
defines ``add_parser(subparsers)``, which adds its subparser and sets
``func=callable(args) -> int`` as its default. To add a command (``run``,
``report``, ``explore``, ...) write such a module and list it here.

A command signals bad input by raising :class:`UsageError`; the message is
printed as one line (``manifold-search COMMAND: error: ...``) and the exit
status is 2, as for argparse's own errors. No traceback is shown for those.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that contribute subcommands (each defines ``add_parser(subparsers)``).
COMMAND_MODULES: list[str] = [
    "manifold_search.commands.run",
    "manifold_search.commands.report",
    "manifold_search.commands.explore",
    "manifold_search.benchmark.command",
]


class UsageError(Exception):
    """Bad command-line input; the message names the problem and the fix."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``prog: error: message (see prog --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="manifold-search",
        description="An Optuna sampler that searches the manifold of trained networks, "
        "and the tools around it.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=ArgumentParser
    )
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manifold-search`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = argv
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"manifold-search {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
