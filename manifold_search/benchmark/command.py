"""``manifold-search benchmark``: compare samplers on a problem, then write a report."""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from manifold_search.cli import UsageError
from manifold_search.registry import SAMPLERS

DEFAULT_SAMPLERS = "random,tpe,gp"

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search benchmark --problem nasbench201-cifar10 --samplers random,tpe,gp \\
          --seeds 20 --trials 100 --jobs 2 --out runs/nb201
      manifold-search benchmark --problem hpobench-nn-vehicle \\
          --samplers tpe,tpe20=tpe --sampler-kwargs tpe20:n_startup_trials=20
      manifold-search benchmark --problem nasbench201-cifar10 \\
          --samplers tpe,mine=mypkg.samplers:MySampler --sampler-kwargs 'mine:{"alpha": 0.5}'
      manifold-search benchmark --report-only --out runs/nb201 --budgets 10,30,100
      manifold-search benchmark --list

    Each (sampler, seed) run writes runs/<label>/seed-NNNN.json under --out when it
    ends; rerunning the same command skips finished runs, so an interrupted
    benchmark resumes where it stopped. The report (report.md, results.json,
    curves.png) is rewritten at the end of every invocation. A sampler that cannot
    work on the problem (cmaes on an all-categorical space) is skipped with a note.

    exit status: 0 done, 1 some runs failed, 2 bad input, 130 interrupted (Ctrl-C or
    SIGTERM: finished runs kept, temporary record folders removed).
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``benchmark`` subcommand's description and arguments."""
    p.description = (
        "Run S samplers x N seeds x T trials on a benchmark problem in parallel\n"
        "processes (resumable), then write report.md, results.json and curves.png."
    )
    p.epilog = _EPILOG
    p.add_argument("--problem", metavar="NAME",
                   help="problem name (see --list), 'family:arg', or 'package.module:attribute'")
    p.add_argument("--live", metavar="SPACE",
                   help="train for real on a search space (mnist1d, digits, ...): the same as "
                   "--problem live:SPACE; use fewer seeds and trials than for tables")
    p.add_argument("--samplers", default=DEFAULT_SAMPLERS, metavar="LIST",
                   help="comma-separated samplers, each NAME or LABEL=NAME; NAME is one of "
                   f"{', '.join(SAMPLERS)} or 'package.module:Class' (default: {DEFAULT_SAMPLERS})")
    p.add_argument("--sampler-kwargs", action="append", default=[], metavar="LABEL:KWARGS",
                   help="keyword arguments of one sampler: LABEL:key=value,key=value or "
                   "LABEL:{JSON object}; repeat for several samplers")
    p.add_argument("--pruner", metavar="NAME[,key=value...]",
                   help="prune trials of live problems: none, median, successive-halving or "
                   "hyperband, with the pruner's options, e.g. hyperband,min_resource=1 "
                   "(default: none; tables report one value per trial and cannot be pruned)")
    p.add_argument("--seeds", default="20", metavar="N|A-B|LIST",
                   help="N seeds 0..N-1, a range A-B (inclusive) or a list 3,5,8 (default: 20)")
    p.add_argument("--trials", default="100", metavar="T",
                   help="trials per run (default: 100)")
    p.add_argument("--jobs", default="2", metavar="J",
                   help="parallel worker processes (default: 2; 1 runs in this process)")
    p.add_argument("--threads", default="1", metavar="K",
                   help="BLAS/torch threads per worker, or of this process with --jobs 1 "
                   "(default: 1)")
    p.add_argument("--out", metavar="DIR",
                   help="results directory (default: runs/benchmark/<problem>)")
    from manifold_search.benchmark.store import DEFAULT_BUDGETS

    p.add_argument("--budgets", default=",".join(map(str, DEFAULT_BUDGETS)),
                   metavar="LIST",
                   help="trial budgets of the report's tables; the run's number of trials is "
                   "always included (default: 10,25,50,100)")
    p.add_argument("--reference", default="tpe", metavar="LABEL",
                   help="sampler the others are compared with, pairwise (default: tpe, "
                   "or the first sampler when tpe is not run)")
    p.add_argument("--report-only", action="store_true",
                   help="only rewrite the report of --out from its finished runs")
    p.add_argument("--list", action="store_true",
                   help="list the registered problems and samplers, then exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run_command)


# -- validation -------------------------------------------------------------------------


def _positive_int(text: str, option: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{option} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise UsageError(f"{option} must be a positive integer, got {text!r}")
    return value


def parse_seeds(text: str) -> list[int]:
    """``"20"`` -> 0..19, ``"5-9"`` -> 5..9, ``"1,4,7"`` -> [1, 4, 7]."""
    text = text.strip()
    fix = "write --seeds N, --seeds A-B or --seeds 1,4,7 with non-negative integers"
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        elif "-" in text.lstrip("-"):
            a, b = text.split("-", 1)
            seeds = list(range(int(a), int(b) + 1))
        else:
            n = int(text)
            if n < 1:
                raise UsageError(f"--seeds must be at least 1, got {text!r}; {fix}")
            seeds = list(range(n))
    except ValueError:
        raise UsageError(f"bad --seeds {text!r}; {fix}") from None
    if not seeds or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise UsageError(f"bad --seeds {text!r} (empty, negative or repeated); {fix}")
    return seeds


def parse_budgets(text: str) -> list[int]:
    try:
        budgets = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        budgets = []
    if not budgets or any(b < 1 for b in budgets):
        raise UsageError(
            f"bad --budgets {text!r}; write positive trial counts separated by commas, "
            "e.g. --budgets 10,25,50,100"
        )
    return budgets


def parse_pruner(text: str | None, problem_name: str) -> dict[str, Any] | None:
    """``"hyperband,min_resource=1"`` -> ``{"name": "hyperband", "options": {...}}``, checked
    by building the pruner; ``None`` for no pruner."""
    from manifold_search.benchmark.problems import get_problem
    from manifold_search.benchmark.samplers import SamplerError, parse_kwargs
    from manifold_search.study.config import ConfigError, pruner_section

    if text is None or text.strip().lower() in ("", "none"):
        return None
    name, _, rest = text.partition(",")
    try:
        options = parse_kwargs(rest)
        section = pruner_section({"name": name.strip(), **options}, "--pruner")
    except (SamplerError, ConfigError) as exc:
        raise UsageError(f"bad --pruner {text!r}: {exc}") from None
    problem = get_problem(problem_name)
    if not problem.supports_pruning:
        raise UsageError(
            f"--pruner: problem {problem.name} reports one value per trial, so nothing can be "
            "pruned; prune live problems (--live SPACE) or drop --pruner"
        )
    return {"name": section.name, "options": dict(section.options)}


def _print_list() -> int:
    from manifold_search.benchmark.problems import list_problems

    print("problems:")
    for name, desc in list_problems().items():
        print(f"  {name:34s} {desc}")
    print("samplers:")
    for name, entry in SAMPLERS.items():
        print(f"  {name:34s} {entry.description}")
    print("  package.module:Class               any optuna BaseSampler by import path")
    return 0


def _print_summary(doc: dict[str, Any], out: Path) -> None:
    b = str(doc["budgets"][-1])
    ref = doc["reference"]
    print(f"regret after {b} trials ({len(doc['seeds'])} seeds), "
          f"W/T/L and p against {ref}:")
    for row in doc["regret"][b]:
        vs = "" if row["wins"] is None else (
            f"  {row['wins']:>2d}/{row['ties']:>2d}/{row['losses']:>2d}  p={row['p_less']:.3g}"
        )
        mean = "-" if row["mean"] is None else f"{row['mean']:.4g} ± {row['se'] or 0:.2g}"
        median = "-" if row["median"] is None else f"{row['median']:.4g}"
        print(f"  {row['sampler']:>16s}  mean {mean:>18s}  median {median:>8s}  "
              f"rank {row['mean_rank']:.2f}{vs}")
    print(f"report: {out / 'report.md'}  (results.json, curves.png)")


# -- command ----------------------------------------------------------------------------


def run_command(args: argparse.Namespace) -> int:
    from manifold_search._signals import sigterm_as_interrupt
    from manifold_search.benchmark import report, store

    sigterm_as_interrupt()  # a scheduler's SIGTERM stops like Ctrl-C: runs kept, temp folders removed

    if args.list:
        return _print_list()
    budgets = parse_budgets(args.budgets)
    if args.report_only:
        return _report_only(args, budgets)
    if args.live:
        if args.problem:
            raise UsageError("give either --problem or --live SPACE, not both")
        args.problem = f"live:{args.live}"
    if not args.problem:
        raise UsageError("--problem is required (or --live SPACE); see --list for the problem names")
    n_trials = _positive_int(args.trials, "--trials")
    jobs = _positive_int(args.jobs, "--jobs")
    threads = _positive_int(args.threads, "--threads")
    seeds = parse_seeds(args.seeds)
    specs, skipped = _samplers_for_problem(args)
    args.pruner_spec = parse_pruner(args.pruner, args.problem)
    out = Path(args.out) if args.out else Path("runs") / "benchmark" / args.problem.replace(":", "_")
    outcome = _run(args, specs, skipped, seeds, n_trials, out, jobs, threads)
    try:
        doc = report.write_report(out, budgets, args.reference, order=[s.label for s in specs])
    except store.ResultsDirError as exc:  # e.g. interrupted before any run finished
        print(f"no report: {exc}", file=sys.stderr)
        return 130 if outcome.interrupted else 1
    _print_summary(doc, out)
    if outcome.interrupted:
        return 130
    return 1 if outcome.failed else 0


def _report_only(args: argparse.Namespace, budgets: list[int]) -> int:
    from manifold_search.benchmark import report, store

    if not args.out:
        raise UsageError("--report-only needs --out DIR, the directory of a benchmark")
    try:
        doc = report.write_report(Path(args.out), budgets, args.reference)
    except store.ResultsDirError as exc:
        raise UsageError(str(exc)) from None
    _print_summary(doc, Path(args.out))
    return 0


def _samplers_for_problem(args: argparse.Namespace) -> tuple[list[Any], dict[str, str]]:
    """The sampler specs that can run on the problem, and why the others cannot."""
    from manifold_search.benchmark.problems import ProblemError, get_problem
    from manifold_search.benchmark.samplers import SamplerError, parse_samplers

    try:
        problem = get_problem(args.problem)
        specs = parse_samplers(args.samplers, args.sampler_kwargs)
        for spec in specs:
            spec.check()
    except (ProblemError, SamplerError) as exc:
        raise UsageError(str(exc)) from None
    skipped: dict[str, str] = {}
    for spec in list(specs):
        reason = spec.unsupported_reason(problem)
        if reason:
            skipped[spec.label] = reason
            specs.remove(spec)
            print(f"note: skipping sampler {spec.label!r} on {problem.name}: {reason}",
                  file=sys.stderr)
    if not specs:
        raise UsageError(f"no sampler left to run on {problem.name}; choose others with --samplers")
    return specs, skipped


def _run(args: argparse.Namespace, specs: list[Any], skipped: dict[str, str], seeds: list[int],
         n_trials: int, out: Path, jobs: int, threads: int) -> Any:  # fmt: skip
    """Run the benchmark and record the invocation beside its results."""
    from manifold_search._format import duration
    from manifold_search.benchmark import store
    from manifold_search.benchmark.runner import run_benchmark

    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    try:
        outcome = run_benchmark(
            args.problem, specs, seeds, n_trials, out, jobs=jobs, threads=threads,
            progress=not args.no_progress, pruner=args.pruner_spec,
        )
    except store.ResultsDirError as exc:
        raise UsageError(str(exc)) from None
    wall = time.perf_counter() - t0
    store.append_invocation(out, {
        "command": shlex.join(["manifold-search", *args.argv]),
        "started": started,
        "wall_seconds": round(wall, 2),
        "jobs": jobs,
        "threads": threads,
        "seeds": seeds,
        "pruner": args.pruner_spec,
        "samplers": [s.to_json() for s in specs],
        "finished": len(outcome.finished),
        "skipped": len(outcome.skipped),
        "failed": len(outcome.failed),
        "interrupted": outcome.interrupted,
        "skipped_samplers": skipped,
        "environment": store.environment(),
    })
    print(f"{len(outcome.finished)} runs finished, {len(outcome.skipped)} reused, "
          f"{len(outcome.failed)} failed in {duration(wall)} ({jobs} jobs)", file=sys.stderr)
    if outcome.interrupted:
        print(f"interrupted: {len(outcome.not_run)} runs not done; rerun the same command "
              "to resume", file=sys.stderr)
    return outcome
