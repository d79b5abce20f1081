"""Run S samplers x N seeds x T trials on one problem, in parallel and resumably.

Each (sampler, seed) pair is one *run*: a fresh in-memory Optuna study driven by
the sampler (seeded with ``seed``) on the problem's objective (seeded with the
same ``seed``, so every sampler faces the same problem instance per seed). Runs
execute in worker processes (``ProcessPoolExecutor``, ``spawn`` context, one
BLAS/torch thread each by default) and each writes its own result file when it
ends (see ``store``); a rerun skips the finished ones.

Per trial a run records the objective value, the best value so far and its
regret, the test value of the incumbent when the problem records one, the
parameters, and the seconds spent inside the sampler (``TimedSampler``).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import optuna

from manifold_search._attrs import PROPOSAL, TEST_VALUE, read_attr
from manifold_search._repeats import repeated_warnings_once
from manifold_search._signals import die_with_parent, interrupts_kept
from manifold_search._threads import THREAD_VARS, process_threads, thread_env
from manifold_search.benchmark import store
from manifold_search.benchmark.problems import (
    Problem,
    ensure_registered,
    get_problem,
    problem_module,
)
from manifold_search.benchmark.samplers import SamplerSpec
from manifold_search.benchmark.timing import TimedSampler
from manifold_search.representations import release_artifact_store


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one (sampler, seed) run (picklable)."""

    problem: str
    problem_module: str
    sampler: dict[str, Any]
    seed: int
    n_trials: int
    path: str
    threads: int = 1
    pruner: dict[str, Any] | None = None

    def spec(self) -> dict[str, Any]:
        """The fields a finished run file must match to be reused."""
        spec = {
            "problem": self.problem,
            "sampler": self.sampler,
            "seed": self.seed,
            "n_trials": self.n_trials,
        }
        return spec if self.pruner is None else {**spec, "pruner": self.pruner}


@dataclass
class Outcome:
    """What ``run_benchmark`` did."""

    finished: list[tuple[str, int]] = field(default_factory=list)
    skipped: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    not_run: list[tuple[str, int]] = field(default_factory=list)
    wall_seconds: float = 0.0
    interrupted: bool = False


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def build_pruner(pruner: dict[str, Any] | None) -> optuna.pruners.BasePruner:
    """The run's pruner: ``{"name": ..., "options": {...}}`` as ``[pruner]`` takes it, or none."""
    from manifold_search.study.config import pruner_section

    if pruner is None:
        return optuna.pruners.NopPruner()
    return pruner_section({"name": pruner["name"], **pruner.get("options", {})}).build()


def execute(problem: Problem, spec: SamplerSpec, seed: int, n_trials: int,
            pruner: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run one study and return its per-trial record (no file I/O)."""
    sampler = TimedSampler(spec.build(seed))
    study = optuna.create_study(
        direction=problem.direction, sampler=sampler, pruner=build_pruner(pruner)
    )
    objective = problem.objective(seed, prune=True) if pruner else problem.objective(seed)
    errors: list[str] = []

    def recorded(trial: optuna.Trial) -> float:
        # A failing trial is kept as FAIL (as Optuna does); its error is recorded so
        # that a broken sampler or problem cannot pass for a bad one.
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            errors.append(f"trial {trial.number}: {type(exc).__name__}: {exc}")
            raise

    start, cpu_start = time.perf_counter(), time.process_time()
    start_time = datetime.now()
    try:
        with repeated_warnings_once(), interrupts_kept():  # GPSampler warns per proposal
            study.optimize(recorded, n_trials=n_trials, catch=(Exception,))
    finally:  # also on Ctrl-C or SIGTERM: the run's temporary record folder goes now
        release_artifact_store(study)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start

    return {
        **_trajectory(problem, study.trials),
        **_costs(study.trials, start_time),
        **_network_betas(study.trials),
        "sampler_seconds": [sampler.seconds.get(t.number, 0.0) for t in study.trials],
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "failed_trials": len(errors),
        "first_error": errors[0] if errors else None,
    }


def _costs(trials: list[optuna.trial.FrozenTrial], start: datetime) -> dict[str, Any]:
    """Per trial, cumulative cost: seconds since the study began when it ended, and
    training steps reported so far (the epochs a pruner lets through; 0 when the
    problem reports none). Time-to-target statistics read these."""
    elapsed, steps, total = [], [], 0
    for trial in sorted(trials, key=lambda t: t.number):
        end = trial.datetime_complete
        elapsed.append(None if end is None else round((end - start).total_seconds(), 4))
        total += len(trial.intermediate_values)
        steps.append(total)
    return {"elapsed_seconds": elapsed, "steps": steps}


def _network_betas(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """``ManifoldSampler(kernel="mixed")``: per trial, the weight its proposal gave the
    network term (None: not proposed by the mixed kernel); nothing for other samplers."""
    betas = []
    for trial in sorted(trials, key=lambda t: t.number):
        proposal = read_attr(trial.user_attrs, PROPOSAL)
        betas.append(proposal.get("network_beta") if isinstance(proposal, dict) else None)
    return {"network_beta": betas} if any(b is not None for b in betas) else {}


def _trajectory(problem: Problem, trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """Per trial: value, best so far and its regret, test value of the incumbent, params."""
    sign = 1.0 if problem.direction == "maximize" else -1.0
    keys = ("values", "best", "regret", "test", "incumbent_test", "test_regret", "params", "states")
    out: dict[str, list[Any]] = {k: [] for k in keys}
    best_value, best_test = -math.inf, None
    for trial in sorted(trials, key=lambda t: t.number):
        value = trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None
        test = read_attr(trial.user_attrs, TEST_VALUE)
        if value is not None and math.isfinite(value) and sign * value > best_value:
            best_value, best_test = sign * value, test
        current = sign * best_value if math.isfinite(best_value) else None
        out["values"].append(_finite(value))
        out["test"].append(_finite(test))
        out["best"].append(current)
        out["regret"].append(None if current is None else _finite(problem.regret(current)))
        out["incumbent_test"].append(_finite(best_test))
        out["test_regret"].append(
            None if best_test is None or problem.test_optimum is None
            else _finite(problem.test_regret(best_test))
        )
        out["params"].append(dict(trial.params))
        out["states"].append(trial.state.name)
    has_test = any(t is not None for t in out["test"])
    return {
        **out,
        "test": out["test"] if has_test else None,
        "incumbent_test": out["incumbent_test"] if has_test else None,
        "test_regret": out["test_regret"] if has_test and problem.test_optimum is not None else None,
    }


def _configure_worker(threads: int) -> None:
    """Initializer of each worker process: thread counts, quiet Optuna."""
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    signal.signal(signal.SIGTERM, _worker_sigterm)  # a SIGTERM cleans up like Ctrl-C
    die_with_parent()  # a SIGKILLed benchmark leaves no run training on


_in_run = False  # in a pool worker: a run is in progress


def _worker_sigterm(_signum: int, _frame: Any) -> None:
    """SIGTERM in a pool worker: interrupt the run in progress (its ``finally`` blocks
    clean up, then :func:`_pooled_run_task` ends the worker); between runs, end at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM really terminates
    if _in_run:
        raise KeyboardInterrupt
    os._exit(130)


def _pooled_run_task(task: RunTask) -> tuple[str, int, str | None, float]:
    """:func:`run_task` in a pool worker; an interrupt ends the worker rather than
    returning it to the pool, where it would take the next queued run."""
    global _in_run
    _in_run = True
    try:
        return run_task(task)
    except KeyboardInterrupt:
        os._exit(130)
    finally:
        _in_run = False


def run_task(task: RunTask) -> tuple[str, int, str | None, float]:
    """Run one task, write its result file; return (label, seed, error, wall)."""
    spec = SamplerSpec.from_json(task.sampler)
    start = time.perf_counter()
    err_file = Path(task.path).with_suffix(".error.txt")
    try:
        ensure_registered(task.problem_module)
        problem = get_problem(task.problem)
        record = execute(problem, spec, task.seed, task.n_trials, task.pruner)
    except Exception:
        err_file.parent.mkdir(parents=True, exist_ok=True)
        err_file.write_text(traceback.format_exc())
        return spec.label, task.seed, traceback.format_exc().strip().splitlines()[-1], 0.0
    record = {
        **task.spec(),
        **record,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "threads": task.threads,
    }
    store.write_json_atomic(Path(task.path), record)
    err_file.unlink(missing_ok=True)
    return spec.label, task.seed, None, time.perf_counter() - start


def plan(
    problem: str, specs: Sequence[SamplerSpec], seeds: Sequence[int], n_trials: int, out: Path,
    threads: int = 1, pruner: dict[str, Any] | None = None,
) -> list[RunTask]:
    """All runs of the benchmark, seed-major so that every seed finishes early."""
    module = problem_module(problem)
    return [
        RunTask(problem, module, spec.to_json(), seed, n_trials,
                str(store.run_path(out, spec.label, seed)), threads, pruner)
        for seed in seeds
        for spec in specs
    ]


def run_benchmark(
    problem: str,
    specs: Sequence[SamplerSpec],
    seeds: Sequence[int],
    n_trials: int,
    out: Path | str,
    *,
    jobs: int = 2,
    threads: int = 1,
    progress: bool = True,
    pruner: dict[str, Any] | None = None,
) -> Outcome:
    """Run every missing (sampler, seed) pair and write its result under ``out``.

    ``jobs <= 1`` runs in this process (no pool). A KeyboardInterrupt cancels the
    runs not started and returns with ``interrupted=True``; finished runs are kept.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    store.check_meta(out, problem, n_trials, pruner)
    outcome = Outcome()
    pending = _pending(plan(problem, specs, seeds, n_trials, out, threads, pruner), outcome)
    bar = tqdm(
        total=len(pending), desc=problem, unit="run", file=sys.stderr,
        disable=not progress or not pending, dynamic_ncols=True,
    )
    start = time.perf_counter()

    def record(result: tuple[str, int, str | None, float]) -> None:
        label, seed, error, wall = result
        if error is None:
            outcome.finished.append((label, seed))
        else:
            outcome.failed.append((label, seed, error))
            bar.write(f"run {label} seed {seed} failed: {error}", file=sys.stderr)
        bar.set_postfix_str(f"{label} seed {seed} {wall:.1f}s", refresh=False)
        bar.update()

    try:
        if jobs <= 1 or len(pending) <= 1:
            with process_threads(threads):  # --threads holds in this process too
                _run_here(pending, record, outcome)
        else:
            _run_pool(pending, record, outcome, jobs, threads)
    finally:
        bar.close()
        outcome.wall_seconds = time.perf_counter() - start
    if outcome.interrupted:
        _count_finished_in_flight(pending, outcome)
    return outcome


def _pending(tasks: list[RunTask], outcome: Outcome) -> list[RunTask]:
    """The tasks without a finished run file; reused ones go to ``outcome.skipped``."""
    pending = []
    for task in tasks:
        state = store.run_state(Path(task.path), task.spec())
        if state == "same":
            outcome.skipped.append((task.sampler["label"], task.seed))
        elif state == "different":
            raise store.ResultsDirError(
                f"{task.path} was made by another specification of sampler "
                f"{task.sampler['label']!r}; give this variant its own label (LABEL=NAME) "
                "or use another --out"
            )
        else:
            pending.append(task)
    return pending


Record = Callable[[tuple[str, int, str | None, float]], None]


def _run_here(pending: list[RunTask], record: Record, outcome: Outcome) -> None:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(verbosity, optuna.logging.WARNING))
    for i, task in enumerate(pending):
        try:
            record(run_task(task))
        except KeyboardInterrupt:
            outcome.interrupted = True
            outcome.not_run.extend((t.sampler["label"], t.seed) for t in pending[i:])
            break
    optuna.logging.set_verbosity(verbosity)


def _run_pool(pending: list[RunTask], record: Record, outcome: Outcome, jobs: int,
              threads: int) -> None:  # fmt: skip
    ctx = get_context("spawn")
    with thread_env(threads), ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_configure_worker, initargs=(threads,),
    ) as pool:
        futures: dict[Future, RunTask] = {pool.submit(_pooled_run_task, t): t for t in pending}
        try:
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = futures[fut]
                    try:
                        record(fut.result())
                    except Exception as exc:  # worker died (e.g. out of memory)
                        record((task.sampler["label"], task.seed,
                                f"{type(exc).__name__}: {exc}", 0.0))
        except KeyboardInterrupt:
            outcome.interrupted = True
            for fut, task in futures.items():
                if not fut.done():
                    fut.cancel()
                    outcome.not_run.append((task.sampler["label"], task.seed))
            pool.shutdown(wait=False, cancel_futures=True)
            _stop_workers()


def _stop_workers(grace: float = 60.0) -> None:
    """SIGTERM the pool's workers and wait for them. A terminal's Ctrl-C reaches the whole
    process group, but ``kill PID`` or a scheduler's stop reaches this process alone: without
    this the runs in flight trained on to their end (and the exit waited for them)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(grace)
        if child.is_alive():
            child.kill()


def _count_finished_in_flight(pending: list[RunTask], outcome: Outcome) -> None:
    """Runs in flight when the interrupt came may still have finished and written their
    files (the pool waits for them unless they were interrupted too)."""
    done = set(outcome.finished)
    for task in pending:
        key = (task.sampler["label"], task.seed)
        if key not in done and store.run_state(Path(task.path), task.spec()) == "same":
            outcome.finished.append(key)
    outcome.not_run = [k for k in outcome.not_run if k not in set(outcome.finished)]
