"""``manifold-search report STUDY_DIR``: the Markdown report and plots of a study."""

from __future__ import annotations

import argparse
import textwrap

from manifold_search.cli import UsageError

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search report runs/quickstart
      manifold-search report studies/quickstart.toml          # the config's output_dir
      manifold-search report runs/quickstart --study quickstart-random
      manifold-search report runs/quickstart --baseline random_values.json

    Writes report.md, history.png, manifold.png and features.png to STUDY_DIR/report/
    (STUDY_DIR/report-<study>/ for a study other than the config's own). The history is
    compared with random search where available: a study of the same space run with
    --sampler random in the same storage, or a --baseline file (JSON
    {"label": "...", "values": [objective values in trial order]}).

    exit status: 0 written, 2 bad input or no study.
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's description and arguments."""
    p.description = (
        "Write the report of a study run by 'manifold-search run': best trials, "
        "history against\nrandom search, parameter importances, the network manifold and its features."
    )
    p.epilog = _EPILOG
    add_study_arguments(p)
    p.add_argument("--baseline", action="append", default=[], metavar="FILE",
                   help="a random-search baseline as JSON (repeatable)")
    p.add_argument("--out", metavar="DIR", help="write the report here instead")
    p.set_defaults(func=report_command)


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("study_dir", metavar="STUDY_DIR",
                   help="output directory of 'manifold-search run', or its STUDY.toml (from any "
                   "directory)")
    p.add_argument("--study", metavar="NAME",
                   help="which study of the storage (default: the config's own study)")
    p.add_argument("--storage", metavar="URL",
                   help="the storage URL, when it is not recorded in STUDY_DIR/run.json")


def report_command(args: argparse.Namespace) -> int:
    from manifold_search.study.locate import locate
    from manifold_search.study.report import write_report
    from manifold_search.study.storage import StudyError, load_study

    try:
        where = locate(args.study_dir, args.study, args.storage)
        study = load_study(where.storage, where.name)
        path = write_report(study, where.output_dir, main=where.main, baseline_files=args.baseline,
                            out=args.out, storage_url=where.storage)  # fmt: skip
    except StudyError as exc:
        raise UsageError(str(exc)) from None
    print(f"report: {path}")
    return 0
