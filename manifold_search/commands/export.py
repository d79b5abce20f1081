"""``manifold-search export RUN_DIR [--trial N]``: a trained network as a folder a user can load."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search export runs/quickstart                 # the best trial
      manifold-search export runs/quickstart --trial 12 --out model-12

    Writes config.toml and config.json (the search space, the trial's parameters and
    its build/train configuration at full precision), weights.safetensors and a model
    card README.md to RUN_DIR/export/trial-N/ (or --out). The weights come from the
    study's artifact store; a trial whose weights were not kept (keep_weights in
    [space]; default the top 10) is trained again from its seed, and the command says
    so. Load the folder in Python with:
        from manifold_search.refine import load_exported
        model = load_exported("runs/quickstart/export/trial-12")

    exit status: 0 written, 2 bad input or no study.
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``export`` subcommand's description and arguments."""
    p.description = ("Export a trial of a study as a folder: configuration, weights and model card.")
    p.epilog = _EPILOG
    p.set_defaults(func=run)
    p.add_argument("study_dir", metavar="RUN_DIR",
                   help="output directory of 'manifold-search run' (or its STUDY.toml)")
    p.add_argument("--trial", type=int, metavar="N", help="trial number (default: the best trial)")
    p.add_argument("--out", metavar="DIR", help="folder to write (default: RUN_DIR/export/trial-N)")
    p.add_argument("--study", metavar="NAME", help="which study of the storage (default: the config's)")
    p.add_argument("--storage", metavar="URL", help="the storage URL, when RUN_DIR has no run.json")


def run(args: argparse.Namespace) -> int:
    from manifold_search.cli import UsageError
    from manifold_search.refine.export import export_trial
    from manifold_search.study.locate import locate
    from manifold_search.study.storage import StudyError, load_study

    notes: list[str] = []
    try:
        where = locate(args.study_dir, args.study, args.storage)
        study = load_study(where.storage, where.name)
        number = args.trial if args.trial is not None else study.best_trial.number
        out = Path(args.out) if args.out else where.output_dir / "export" / f"trial-{number}"
        built = export_trial(study, out, trial=number, log=notes.append)
    except (StudyError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    for note in notes:
        print(f"note: {note}")
    print(f"export: trial {number} -> {out} ({built.source})")
    print(f'load: from manifold_search.refine import load_exported; model = load_exported("{out}")')
    return 0
