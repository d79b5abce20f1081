"""``manifold-search sparsify RUN_DIR``: sparsify a study's winners and report how much function they keep."""

from __future__ import annotations

import argparse
import textwrap
import tomllib
from pathlib import Path
from typing import Any

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search sparsify runs/quickstart
      manifold-search sparsify runs/quickstart --top 1 --sparsity 0.9 --methods fip,magnitude
      manifold-search sparsify runs/quickstart --steps 2000          # quicker, weaker

    For each of the best K trials (kept weights, or the configuration retrained from its
    seed), runs each method once through the target sparsities (a snapshot at each):
      fip        label-free functionally invariant path (the default method)
      magnitude  one-shot global magnitude pruning, no training
      imp        iterative magnitude pruning with fine-tuning on labels
      gmp        gradual magnitude pruning with fine-tuning (Zhu & Gupta)
    Writes refine.md (test accuracy, share of dense accuracy kept, network distance to
    the dense network, real share of zeros, seconds), refine.json and one
    accuracy-vs-sparsity plot per network to the run's report folder; the sparse
    weights and masks go to the study's artifact store as safetensors, with each sparse
    network's probe representation. When the folder holds the run's report, the report
    is rewritten: its manifold plot shows the sparse networks beside their originals
    (so does 'manifold-search explore'). Defaults come from the config's [refine]
    section when it has one.

    exit status: 0 written, 2 bad input or no study.
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``sparsify`` subcommand's description and arguments."""
    p.description = ("Sparsify the kept winners of a study along functionally invariant paths "
        "and against pruning baselines.")
    p.epilog = _EPILOG
    p.set_defaults(func=run)
    p.add_argument("study_dir", metavar="RUN_DIR",
                   help="output directory of 'manifold-search run' (or its STUDY.toml)")
    p.add_argument("--top", type=int, metavar="K", help="sparsify the best K trials (default 3)")
    p.add_argument("--sparsity", metavar="S,S,...", help="target sparsities (default 0.5,0.8,0.9,0.95)")
    p.add_argument("--methods", metavar="M,M,...", help="fip,magnitude,imp,gmp (default: all four)")
    p.add_argument("--steps", type=int, metavar="N", help="gradient steps per method and network (default 8000)")
    p.add_argument("--criterion", choices=("magnitude", "lamp"),
                   help="how fip and one-shot rank weights across layers (default: the config's, else lamp)")
    p.add_argument("--out", metavar="DIR", help="report folder (default: the run's report folder)")
    p.add_argument("--study", metavar="NAME", help="which study of the storage (default: the config's)")
    p.add_argument("--storage", metavar="URL", help="the storage URL, when RUN_DIR has no run.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")


def config_section(study_dir: str) -> dict[str, Any]:
    """The ``[refine]`` table of the run's config file, or {} (read as plain TOML)."""
    import json

    path = Path(study_dir)
    if path.is_dir() and (path / "run.json").is_file():
        config = json.loads((path / "run.json").read_text()).get("config")
        path = Path(config) if config else path
    if path.is_file() and path.suffix == ".toml":
        with open(path, "rb") as handle:
            return dict(tomllib.load(handle).get("refine", {}))
    return {}


def settings_from(args: argparse.Namespace):
    """The [refine] section with the command line's overrides, validated."""
    from manifold_search.refine.settings import parse_refine

    section = config_section(args.study_dir)
    if args.top is not None:
        section["top"] = args.top
    if args.steps is not None:
        section["steps"] = args.steps
    if args.criterion:
        section["criterion"] = args.criterion
    if args.methods:
        section["methods"] = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.sparsity:
        try:
            section["sparsity"] = [float(s) for s in args.sparsity.split(",")]
        except ValueError:
            raise ValueError(f"--sparsity {args.sparsity!r}: give numbers, e.g. 0.5,0.9") from None
    return parse_refine(section)


def run(args: argparse.Namespace) -> int:
    from manifold_search.cli import UsageError
    from manifold_search.refine.study import refine_study
    from manifold_search.study.locate import locate
    from manifold_search.study.storage import StudyError, load_study

    try:
        settings = settings_from(args)
        where = locate(args.study_dir, args.study, args.storage)
        study = load_study(where.storage, where.name)
        out = Path(args.out) if args.out else where.report_dir
        path = refine_study(study, out, settings, progress=not args.no_progress,
                            log=lambda m: print(m, flush=True))  # fmt: skip
    except (StudyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    print(f"sparsify: {path}")
    _refresh_report(study, where, out)
    return 0


def _refresh_report(study, where, out: Path) -> None:
    """Rewrite the run's report where it already is, so its manifold plot shows the sparse networks."""
    from manifold_search.study.report import write_report
    from manifold_search.study.storage import ReportError

    if not (out / "report.md").is_file():
        return
    try:
        path = write_report(study, where.output_dir, main=where.main, out=out, storage_url=where.storage)
    except ReportError as exc:
        print(f"report not refreshed: {exc}")
        return
    print(f"report: {path} (the sparse networks beside their originals on manifold.png)")
