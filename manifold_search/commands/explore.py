"""``manifold-search explore STUDY_DIR``: the network manifold as an interactive HTML page."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from manifold_search.cli import UsageError
from manifold_search.commands.report import add_study_arguments

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search explore runs/quickstart
      manifold-search explore runs/quickstart --out /tmp/manifold.html

    Writes one self-contained HTML file (inline SVG and JavaScript, no network access
    needed) to STUDY_DIR/report/manifold.html: the PHATE layout of the study's trained
    networks, coloured by the objective, a manifold feature or a categorical parameter;
    hover a point for the trial's parameters and metrics, click to pin it.

    exit status: 0 written, 2 bad input or no study.
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``explore`` subcommand's description and arguments."""
    p.description = (
        "Write the network manifold of a study as one self-contained, interactive "
        "HTML page."
    )
    p.epilog = _EPILOG
    add_study_arguments(p)
    p.add_argument("--out", metavar="FILE.html", help="where to write the page")
    p.set_defaults(func=explore_command)


def explore_command(args: argparse.Namespace) -> int:
    from manifold_search.study.explore import write_explore
    from manifold_search.study.locate import locate
    from manifold_search.study.storage import StudyError, load_study

    try:
        where = locate(args.study_dir, args.study, args.storage)
        study = load_study(where.storage, where.name)
        path = write_explore(study, Path(args.out) if args.out else where.report_dir / "manifold.html")
    except StudyError as exc:
        raise UsageError(str(exc)) from None
    print(f"explore: {path}")
    return 0
