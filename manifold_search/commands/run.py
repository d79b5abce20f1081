"""``manifold-search run STUDY.toml``: run (or resume) a study, then write its report."""

from __future__ import annotations

import argparse
import shlex
import sys
import textwrap
from typing import Any

from manifold_search.cli import UsageError

_EPILOG = textwrap.dedent(
    """\
    examples:
      manifold-search run studies/quickstart.toml
      manifold-search run studies/mnist1d_nas.toml --workers 2
      manifold-search run studies/quickstart.toml --sampler random   # a baseline beside it
      manifold-search run studies/digits.toml --trials 50 --storage sqlite:///digits.db

    Relative paths in STUDY.toml (output_dir, a sqlite storage, data_dir) are relative
    to the config file's folder, so the command works from any directory. The study
    lives in its storage (default: a SQLite file <output_dir>/study.db with the
    recorded networks in study.db.artifacts/ beside it). Running the same command
    again resumes it to its target number of finished trials; a trial left RUNNING by
    a killed run is marked FAIL first. With --sampler other than the config's, the
    trials go to a study of their own, <name>-<sampler>, in the same storage: a run
    with --sampler random is the baseline the report compares against.

    The report (report.md, history.png, manifold.png, features.png) is written to
    <output_dir>/report/ at the end (report-<study name>/ for another sampler's
    study); failed trials' tracebacks go to <output_dir>/errors.log.

    On a database server (postgresql://...) a running trial sends a heartbeat every
    [study] heartbeat seconds (default 20); a trial whose worker died, on any machine,
    is failed after 3 missed heartbeats and retried once by another worker.

    exit status: 0 done, 1 trials kept failing or a worker died (even when the others
    reached the target), 2 bad input, 130 interrupted (Ctrl-C or SIGTERM).
    """
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The ``run`` subcommand's description and arguments."""
    p.description = (
        "Run the study described by STUDY.toml: train networks from its search space "
        "with its sampler,\nrecord each trained network, and write a report. Resumable."
    )
    p.epilog = _EPILOG
    p.add_argument("config", metavar="STUDY.toml", help="study config (see studies/)")
    p.add_argument("--trials", type=int, metavar="N",
                   help="target number of finished trials (default: [study] n_trials)")
    p.add_argument("--storage", metavar="URL",
                   help="Optuna storage URL, sqlite:///path/study.db (the recorded networks "
                   "go to study.db.artifacts/ beside it; a database server such as "
                   "postgresql://... only with [space] record = false) (default: [study] "
                   "storage, else <output_dir>/study.db)")
    p.add_argument("--sampler", metavar="NAME",
                   help="manifold, tpe, gp, random, ... (any case) or package.module:Class (default: "
                   "[sampler] name); another sampler than the config's runs its own study "
                   "<name>-<sampler> in the same storage")
    p.add_argument("--seed", type=int, metavar="S",
                   help="the sampler's seed (default: [study] seed). Each worker's sampler is "
                   "seeded from it and the number n of the first trial that worker creates: S "
                   "itself for n = 0, else SeedSequence([S, n]); trial numbers are unique, so "
                   "no two workers, of one run or of runs started together, share a seed. The "
                   "data split, probe and weight initialisation follow the space's own seed "
                   "option")
    p.add_argument("--workers", type=int, default=1, metavar="K",
                   help="worker processes sharing the storage (spawned, one torch thread "
                   "each; default: 1)")
    p.add_argument("--pruner", metavar="NAME",
                   help="none, median, successive-halving or hyperband (Optuna's defaults; "
                   "options go in the config's [pruner] table). A pruned trial still records "
                   "the network it has when pruned")
    p.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="start no new trial after this many seconds (the running one "
                   "finishes; rerun to continue) (default: [study] timeout, else none)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from manifold_search.study.config import load_config
    from manifold_search.study.plan import make_plan
    from manifold_search.study.runner import run_study
    from manifold_search.study.storage import StudyError
    from manifold_search.study.workers import sigterm_as_interrupt

    sigterm_as_interrupt()  # a scheduler's SIGTERM stops the study like Ctrl-C, resumable
    try:
        config = load_config(args.config)
        plan = make_plan(config, trials=args.trials, storage=args.storage, sampler=args.sampler,
                         seed=args.seed, workers=args.workers, pruner=args.pruner,
                         timeout=args.timeout)  # fmt: skip
        outcome = run_study(plan, progress=not args.no_progress, report=not args.no_report)
    except StudyError as exc:
        raise UsageError(str(exc)) from None
    for note in outcome.notes:
        print(f"note: {note}", file=sys.stderr)
    print(_finished_line(outcome))
    return _closing_lines(args, plan, outcome)


def _finished_line(outcome: Any) -> str:
    """Trials finished and how long they took: this run's time when it trained, else the
    study's own span (a resume with nothing left to do took no time worth printing)."""
    from manifold_search._format import duration

    new = outcome.finished - outcome.finished_before
    head = f"{outcome.finished}/{outcome.target} finished trials"
    if new == 0 and outcome.failed_now == 0:
        return (f"{head}: target already reached; the study's trials ran from first start to "
                f"last end in {duration(outcome.study_seconds)}")  # fmt: skip
    return (f"{head} ({new} new, {outcome.failed_now} failed) in {duration(outcome.wall_seconds)}"
            f" (study so far: {duration(outcome.study_seconds)})")  # fmt: skip


def _closing_lines(args: argparse.Namespace, plan: Any, outcome: Any) -> int:
    from manifold_search._format import duration

    resume = shlex.join(["manifold-search", *args.argv])
    best = outcome.best
    if best is not None:
        test = best.user_attrs.get("test_accuracy")
        test_text = f", test accuracy {test:.4g}" if isinstance(test, float) else ""
        print(f"best trial {best.number}: {plan.run_attr()['objective']} {best.value:.4g}"
              f"{test_text}; {best.params}")
    if outcome.interrupted:
        print(f"interrupted: the {outcome.finished} finished trials are stored in "
              f"{outcome.storage_url}; resume with: {resume}", file=sys.stderr)
        print(f"report so far: manifold-search report {plan.output_dir}", file=sys.stderr)
        return 130
    if outcome.report is not None:
        print(f"report: {outcome.report}")
        print(f"interactive manifold: manifold-search explore {plan.output_dir}"
              + ("" if plan.is_main else f" --study {plan.study_name}"))
    if outcome.refine is not None:
        print(f"refine: {outcome.refine} (sparsified winners; export one with: manifold-search "
              f"export {plan.output_dir})")
    if outcome.timed_out:
        skipped = " ([refine] waits for the target)" if plan.config.refine is not None else ""
        print(f"stopped at the timeout of {duration(plan.timeout)} with {outcome.finished}/"
              f"{outcome.target} finished trials{skipped}; continue with: {resume}",
              file=sys.stderr)
    if outcome.dead_workers and outcome.finished >= outcome.target:  # heartbeat retried its trial
        print(f"a worker died: {'; '.join(outcome.dead_workers)}; the other workers retried its "
              "trial and reached the target", file=sys.stderr)
        return 1
    if outcome.dead_workers:
        print(f"stopped: {'; '.join(outcome.dead_workers)}; its trial is marked FAIL on resume, "
              f"finished trials are kept; resume with: {resume}", file=sys.stderr)
        return 1
    if outcome.stopped_failing:
        print(f"stopped: trials kept failing ({outcome.first_error}); fix the cause (see "
              f"{plan.output_dir / 'errors.log'}) and rerun: {resume}", file=sys.stderr)
        return 1
    return 0
