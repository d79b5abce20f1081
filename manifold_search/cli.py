"""The ``manifold-search`` command.

Subcommands are named in :data:`manifold_search.registry.COMMANDS`: each entry is
the import path of a module's ``add_arguments(parser)``, which gives the command's
subparser its description, epilog and arguments and sets ``func=callable(args) ->
int`` as its default. Only the
command being run is imported; ``manifold-search --help`` lists the commands from
the registry's descriptions without importing any of them.

A command signals bad input by raising :class:`UsageError`; the message is
printed as one line (``manifold-search COMMAND: error: ...``) and the exit
status is 2, as for argparse's own errors. No traceback is shown for those.
Options are never abbreviated (``--trail`` is not ``--trials``); a mistyped
option gets a "did you mean".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from manifold_search.registry import COMMANDS, did_you_mean

PROG = "manifold-search"


class UsageError(Exception):
    """Bad command-line input; the message names the problem and the fix."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors, no abbreviated options, and "did you mean" for
    mistyped options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.option_names: list[str] = []  # before argparse adds --help
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        self.option_names += [a for a in args if isinstance(a, str) and a.startswith("--")]
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def unrecognized(self, extras: list[str]) -> None:
        """Exit on unknown arguments, naming the closest option of each mistyped one."""
        hints = [did_you_mean(a.split("=")[0], self.option_names).strip()
                 for a in extras if a.startswith("--")]  # fmt: skip
        hint = "; ".join(h for h in hints if h)
        self.error(f"unrecognized arguments: {' '.join(extras)}" + (f"; {hint}" if hint else ""))


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> tuple[ArgumentParser, ArgumentParser | None]:
    """The top parser, and the subparser of ``command`` (the only command module imported)."""
    parser = ArgumentParser(
        prog=PROG,
        description="An Optuna sampler that searches the manifold of trained networks, "
        "and the tools around it.",
        epilog=f"'{PROG} COMMAND --help' describes a command.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=ArgumentParser
    )
    chosen = None
    for name, entry in COMMANDS.items():
        if name == command:
            chosen = subparsers.add_parser(name, help=entry.description,
                                           formatter_class=argparse.RawDescriptionHelpFormatter)
            entry.load()(chosen)
        else:
            subparsers.add_parser(name, help=entry.description, add_help=False)
    return parser, chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``manifold-search`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    parser, sub = build_parser(command)
    if not argv:
        parser.print_help()
        return 0
    if command is not None and command not in COMMANDS:
        print(f"{PROG}: error: unknown command {command!r}; {did_you_mean(command, list(COMMANDS))}"
              f"choose one of: {', '.join(COMMANDS)} (see {PROG} --help)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        args, extras = parser.parse_known_args(argv)
        if extras:
            (sub or parser).unrecognized(extras)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.argv = argv
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # python -m manifold_search.cli: run the imported module's main,
    from manifold_search.cli import main as _main  # whose UsageError the commands raise

    sys.exit(_main())
