"""``manifold-search check STUDY_DIR``: verify every network record; drop the broken ones."""

from __future__ import annotations

import argparse
import textwrap

from manifold_search.cli import UsageError
from manifold_search.commands.report import add_study_arguments

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search check runs/quickstart
      manifold-search check studies/quickstart.toml --drop

    Reads every trial's record (its representation on the probe set) from the study's
    artifact store and lists the ones that are missing, truncated or not a record.
    With --drop the broken records are noted on the study, so the sampler, report and
    explore leave those networks out without warning again; trial values, states and
    parameters are never touched. Files are never unpickled.

    exit status: 0 every record readable (or the broken ones dropped), 1 broken records
    found and kept, 2 bad input or no study.
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``check`` subcommand's description and arguments."""
    p.description = "Verify every network record of a study; --drop leaves the broken ones out."
    p.epilog = _EPILOG
    add_study_arguments(p)
    p.add_argument("--drop", action="store_true",
                   help="note the broken records as dropped (trial results stay)")
    p.set_defaults(func=check_command)


def check_command(args: argparse.Namespace) -> int:
    from manifold_search.records import check_records, dropped_records
    from manifold_search.representations import network_reference
    from manifold_search.study.locate import locate
    from manifold_search.study.storage import StudyError, load_study

    try:
        where = locate(args.study_dir, args.study, args.storage)
        study = load_study(where.storage, where.name)
    except StudyError as exc:
        raise UsageError(str(exc)) from None
    before = len(dropped_records(study))
    problems = check_records(study, drop=args.drop)
    for number, problem in problems:
        print(f"trial {number}: {problem}")
    n_records = sum(network_reference(t) is not None for t in study.get_trials(deepcopy=False))
    if not problems:
        print(f"check: every record readable ({n_records} records; {before} dropped before)")
        return 0
    if args.drop:
        print(f"check: {len(problems)} broken records dropped; trial results kept")
        return 0
    print(f"check: {len(problems)} broken records; rerun with --drop to leave them out")
    return 1
