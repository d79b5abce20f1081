"""The study runner: a study config in, a resumable Optuna study of trained networks out.

:func:`run_study` opens (or creates) the study named by the config in its storage
(by default a SQLite file ``<output_dir>/study.db`` with the artifact store of the
recorded networks beside it, ``study.db.artifacts/``), then trains networks from
the config's search space until the study holds ``n_trials`` finished trials
(COMPLETE or PRUNED). Running it again resumes: finished trials are counted,
never repeated.

Stale trials. A trial records the host, process id and process start time of the
worker running it (user attribute ``manifold_search:worker``). On (re)start, a
RUNNING trial whose process on this host no longer exists was left by a killed
run and is marked FAIL. With one worker, RUNNING trials whose owner cannot be
checked (no record, or another host of a SQLite file) are failed too; with
several workers they are left alone. Storages other than SQLite (possible only
with ``record = false``: the spaces keep networks beside a SQLite file) get
Optuna's heartbeat (``heartbeat_interval``), so trials of workers that died on
other machines are failed by Optuna itself after the grace period.

Parallel workers. ``workers=K`` starts K processes (``spawn`` context, one
torch/BLAS thread each) on the shared storage. Worker ``k`` seeds its sampler
with a seed derived from ``(seed, k, trials already stored)``, so workers do not
repeat each other's random start-up configurations; likewise a resumed study
reseeds its sampler with the number of trials already stored (a fresh study with
one worker uses ``seed`` itself). Every worker stops when finished plus running
trials reach the target, so a study overshoots by at most K - 1 trials.

No pruner: every trial trains for the space's full budget, so that every trial
leaves a trained network on the manifold (Optuna's default MedianPruner would
stop a trial before its network is recorded).

Ctrl-C stops the study: the trial in progress is marked FAIL (its error reads
"interrupted"), finished trials are already in the storage, and the same command
resumes.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search._threads import thread_env
from manifold_search.study_config import (
    ConfigError,
    SamplerSection,
    StudyConfig,
    build_sampler,
    build_space,
    sampler_label,
    validate_storage_url,
)

#: Study user attribute: what the study runs (space, sampler, target, config).
RUN_ATTR = "manifold_search:run"
#: Trial user attribute: the worker process that runs the trial.
WORKER_ATTR = "manifold_search:worker"
#: Trial user attribute: the error of a failed trial (one line).
ERROR_ATTR = "error"
#: File in the output directory naming the storage and study of each study run there.
RUN_FILE = "run.json"
#: File in the output directory collecting full tracebacks of failed trials.
ERROR_LOG = "errors.log"
#: Consecutive failed trials after which a worker stops (a broken setup, not bad luck).
MAX_CONSECUTIVE_FAILURES = 3
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class RunError(ValueError):
    """The study cannot be run as asked (the message says how to fix it)."""


# -- what to run ------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyPlan:
    """A config with the command line's overrides applied: everything a worker needs."""

    config: StudyConfig
    study_name: str
    storage_url: str
    sampler: SamplerSection
    seed: int
    n_trials: int
    workers: int = 1

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir

    @property
    def is_main(self) -> bool:
        """True for the config's own study (its own sampler), False for a comparison run."""
        return self.study_name == self.config.study.name

    def run_attr(self) -> dict[str, Any]:
        """What is stored on the study (JSON): checked when the study is resumed."""
        space = self.config.space
        return {
            "space": {"name": space.name, "options": dict(space.options)},
            "sampler": {"name": self.sampler.name, "options": dict(self.sampler.options)},
            "seed": self.seed,
            "n_trials": self.n_trials,
            "direction": self.config.study.direction,
            "config": self.config.path,
            "objective": objective_label(space.name),
        }


def objective_label(space_name: str) -> str:
    """What the objective value is: validation accuracy for spaces built on
    :class:`search_spaces.base.SearchSpace` (the bundled ones and their subclasses)."""
    from manifold_search.study_config import space_target
    from search_spaces.base import SearchSpace

    try:
        target = space_target(space_name)
    except ValueError:
        return "objective"
    is_space = isinstance(target, SearchSpace) or (
        isinstance(target, type) and issubclass(target, SearchSpace)
    )
    return "validation accuracy" if is_space else "objective"


def make_plan(
    config: StudyConfig,
    *,
    trials: int | None = None,
    storage: str | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> StudyPlan:
    """Apply command-line overrides to ``config``.

    A ``sampler`` other than the config's gets its own study, ``<name>-<sampler>``, in
    the same storage (the config's ``[sampler]`` options do not apply to it): that is
    how a random-search baseline or a TPE comparison is run beside the main study.
    """
    if trials is not None and trials < 1:
        raise RunError(f"--trials must be at least 1, got {trials}")
    if workers < 1:
        raise RunError(f"--workers must be at least 1, got {workers}")
    if seed is not None and seed < 0:
        raise RunError(f"--seed must be non-negative, got {seed}")
    if storage is not None:
        try:
            validate_storage_url(storage, "--storage")
        except ConfigError as exc:
            raise RunError(str(exc)) from None
    url = config.storage_url(storage)
    if not url.startswith("sqlite:///") and config.space.options.get("record", True) is not False:
        raise RunError(
            f"storage {url!r}: the search spaces record each trained network in an artifact "
            "store beside a SQLite file, and a database server has no such place; use a "
            "sqlite:///PATH storage (one machine, several --workers), or set record = false "
            "in [space] (no manifold: the sampler then works on parameters alone)"
        )
    section = config.sampler
    name = config.study.name
    if sampler is not None and sampler != config.sampler.name:
        section = SamplerSection(name=sampler, options={})
        name = f"{config.study.name}-{sampler_label(sampler)}"
    try:
        build_sampler(section, seed=0, path="--sampler" if section is not config.sampler
                      else config.path)  # fmt: skip
    except ConfigError as exc:
        raise RunError(str(exc).replace("--sampler: [sampler] ", "--sampler: ")) from None
    return StudyPlan(
        config=config,
        study_name=name,
        storage_url=url,
        sampler=section,
        seed=config.study.seed if seed is None else seed,
        n_trials=config.study.n_trials if trials is None else trials,
        workers=workers,
    )


# -- storage ----------------------------------------------------------------------------


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """An RDB storage for ``url``: SQLite with a long lock timeout (several processes
    write to one file), other databases with Optuna's heartbeat."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"storage {url!r}: cannot create {path.parent} ({exc})") from None
        kwargs: dict[str, Any] = {"engine_kwargs": {"connect_args": {"timeout": 60}}}
    else:
        kwargs = {"heartbeat_interval": 60, "grace_period": 180}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, **kwargs)
    except Exception as exc:  # bad URL, missing driver, unreachable server
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(
            f"cannot open storage {url!r}: {first}; check the URL (e.g. "
            "sqlite:///runs/x/study.db) and that its database driver is installed"
        ) from None


def _proc_start(pid: int) -> str | None:
    """Start time of a process in clock ticks (Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_record() -> dict[str, Any]:
    """Who runs a trial: host, process id and process start time."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _proc_start(os.getpid())}


def owner_alive(record: dict[str, Any] | None) -> bool | None:
    """Whether the process that runs a trial still exists (None: cannot tell)."""
    if not isinstance(record, dict) or record.get("host") != socket.gethostname():
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or not _pid_alive(pid):
        return False
    start = record.get("start")
    return start is None or _proc_start(pid) in (None, start)


def fail_stale_trials(study: optuna.Study, workers: int = 1) -> list[int]:
    """Mark RUNNING trials left by killed processes as FAIL; return their numbers.

    A trial whose worker process on this host is gone is stale. With ``workers == 1``
    a trial whose owner cannot be checked is taken as stale too (a single-worker
    run is the only writer of its study; do not run two ``run`` commands on one study
    at once: use ``--workers``). Optuna's own heartbeat check runs as well.
    """
    optuna.storages.fail_stale_trials(study)
    storage = study._storage
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        alive = owner_alive(trial.user_attrs.get(WORKER_ATTR))
        if alive is False or (alive is None and workers == 1):
            try:
                storage.set_trial_user_attr(
                    trial._trial_id, ERROR_ATTR,
                    "stale: left RUNNING by a process that no longer runs (killed run)",
                )
                if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                    stale.append(trial.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished meanwhile by its owner
    return stale


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials per state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING)."""
    out = {state.name: 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        out[trial.state.name] += 1
    return out


def n_finished(study: optuna.Study) -> int:
    c = counts(study)
    return c["COMPLETE"] + c["PRUNED"]


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best COMPLETE trial (None when there is none)."""
    try:
        return study.best_trial
    except ValueError:
        return None


def derived_seed(seed: int, worker: int, n_existing: int) -> int:
    """The sampler seed of worker ``worker`` when ``n_existing`` trials are stored."""
    if worker == 0 and n_existing == 0:
        return seed
    return int(np.random.SeedSequence([seed, worker, n_existing]).generate_state(1)[0] % 2**31)


# -- the objective ----------------------------------------------------------------------


class TrialObjective:
    """The space's objective plus bookkeeping: the worker record, and the error of a
    failed trial (one line as a user attribute, the traceback in ``errors.log``)."""

    def __init__(self, space: Any, error_log: Path | None = None) -> None:
        self.space = space
        self.error_log = error_log
        self.record = worker_record()

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            trial.set_user_attr(WORKER_ATTR, self.record)
            return self.space.objective(trial)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            _try(lambda: trial.set_user_attr(ERROR_ATTR, "interrupted (Ctrl-C)"))
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:400]
            _try(lambda: trial.set_user_attr(ERROR_ATTR, message))
            if self.error_log is not None:
                with contextlib.suppress(OSError), open(self.error_log, "a") as handle:
                    handle.write(f"--- trial {trial.number} (pid {os.getpid()})\n")
                    handle.write(traceback.format_exc())
            raise


def _try(action: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):
        action()


def trial_loop(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], float],
    target: int,
    after_trial: Callable[[], None] | None = None,
) -> str:
    """Run trials until finished + running trials reach ``target``.

    Returns ``"done"`` or ``"failing"`` (MAX_CONSECUTIVE_FAILURES trials in a row
    failed). KeyboardInterrupt propagates (Optuna has marked the trial FAIL).
    """
    failures = 0
    last: list[FrozenTrial] = []

    def remember(_study: optuna.Study, trial: FrozenTrial) -> None:
        last.append(trial)

    while True:
        c = counts(study)
        if c["COMPLETE"] + c["PRUNED"] + c["RUNNING"] >= target:
            return "done"
        last.clear()
        study.optimize(objective, n_trials=1, catch=(Exception,), callbacks=[remember])
        if after_trial is not None:
            after_trial()
        failures = failures + 1 if last and last[-1].state == TrialState.FAIL else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            return "failing"


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by the runner
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _worker_main(plan: StudyPlan, worker: int, n_existing: int) -> None:
    """Entry point of a worker process (spawn): one torch thread, the shared storage."""
    import torch

    torch.set_num_threads(1)
    _quiet()
    try:
        space = build_space(plan.config.space, plan.config.path)
        sampler = build_sampler(plan.sampler, derived_seed(plan.seed, worker, n_existing))
        study = optuna.load_study(study_name=plan.study_name, storage=open_storage(plan.storage_url),
                                  sampler=sampler, pruner=optuna.pruners.NopPruner())  # fmt: skip
        objective = TrialObjective(space, plan.output_dir / ERROR_LOG)
        status = trial_loop(study, objective, plan.n_trials)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0 if status == "done" else 3)


# -- running a study --------------------------------------------------------------------


@dataclass
class RunOutcome:
    """What :func:`run_study` did."""

    study_name: str
    storage_url: str
    target: int
    finished_before: int
    finished: int = 0
    failed_now: int = 0
    stale: list[int] = field(default_factory=list)
    interrupted: bool = False
    stopped_failing: bool = False
    first_error: str | None = None
    wall_seconds: float = 0.0
    best: FrozenTrial | None = None
    report: Path | None = None
    notes: list[str] = field(default_factory=list)


class _Progress:
    """A tqdm bar over finished trials with the best value, plus one line per failure."""

    def __init__(self, study: optuna.Study, plan: StudyPlan, enabled: bool) -> None:
        from tqdm.auto import tqdm

        self.study = study
        self.label = objective_label(plan.config.space.name)
        self.seen_failed = {t.number for t in study.get_trials(deepcopy=False,
                                                                 states=(TrialState.FAIL,))}  # fmt: skip
        self.first_error: str | None = None
        self.failed_now = 0
        done = n_finished(study)
        self.bar = tqdm(
            total=plan.n_trials, initial=min(done, plan.n_trials), desc=plan.study_name,
            unit="trial", file=sys.stderr, dynamic_ncols=True, disable=not enabled,
            bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| [{elapsed}<{remaining}]"
            "{postfix}",
        )
        self.update()

    def update(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state in FINISHED for t in trials)
        for t in trials:
            if t.state == TrialState.FAIL and t.number not in self.seen_failed:
                self.seen_failed.add(t.number)
                self.failed_now += 1
                error = t.user_attrs.get(ERROR_ATTR, "no error recorded")
                self.first_error = self.first_error or f"trial {t.number}: {error}"
                self.bar.write(f"trial {t.number} failed: {error}", file=sys.stderr)
        best = best_trial(self.study)
        if best is not None:
            self.bar.set_postfix_str(f"best {best.value:.4g} (trial {best.number})", refresh=False)
        self.bar.update(min(done, self.bar.total) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def write_run_file(plan: StudyPlan) -> None:
    """Record in the output directory where this study lives (for report/explore)."""
    path = plan.output_dir / RUN_FILE
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
    studies = data.get("studies") if isinstance(data.get("studies"), dict) else {}
    studies[plan.study_name] = plan.storage_url
    data = {"study": plan.config.study.name, "config": plan.config.path, "studies": studies}
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _check_resumable(study: optuna.Study, plan: StudyPlan) -> None:
    stored = study.user_attrs.get(RUN_ATTR)
    if not isinstance(stored, dict):
        return
    now = plan.run_attr()
    if stored.get("space") != now["space"]:
        raise RunError(
            f"study {plan.study_name!r} in {plan.storage_url} was run with space "
            f"{json.dumps(stored.get('space'))}, the config now gives {json.dumps(now['space'])}; "
            "trials would not be comparable: restore the [space] table, or give the study "
            "another [study] name or output_dir"
        )


def open_study(plan: StudyPlan, sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Create or load the plan's study and check that it may be resumed."""
    storage = open_storage(plan.storage_url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.create_study(
                study_name=plan.study_name, storage=storage, sampler=sampler,
                direction=plan.config.study.direction, load_if_exists=True,
                pruner=optuna.pruners.NopPruner(),
            )  # fmt: skip
    except ValueError as exc:  # e.g. the stored direction differs
        raise RunError(
            f"study {plan.study_name!r} in {plan.storage_url}: {exc}; restore [study] direction "
            "or give the study another name"
        ) from None
    if study.direction.name.lower() != plan.config.study.direction:
        raise RunError(
            f"study {plan.study_name!r} in {plan.storage_url} is stored with direction "
            f"{study.direction.name.lower()}, the config says {plan.config.study.direction}; "
            "restore [study] direction or give the study another name"
        )
    _check_resumable(study, plan)
    return study


def _load_data(space: Any, path: str) -> None:
    """Load the space's data and probe once, so that missing data fails before training."""
    try:
        if hasattr(space, "probe"):
            space.probe()
    except (OSError, RuntimeError, ValueError) as exc:
        raise RunError(f"{path}: search space data: {str(exc).splitlines()[0]}") from None


def run_study(plan: StudyPlan, *, progress: bool = True, report: bool = True,
              log: Callable[[str], None] | None = None) -> RunOutcome:  # fmt: skip
    """Run ``plan`` to its target, then (unless ``report=False``) write the study report."""
    log = log or (lambda message: print(message, file=sys.stderr))
    _quiet()
    space = build_space(plan.config.space, plan.config.path)
    _load_data(space, plan.config.path)
    plan.output_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(plan)
    n_existing = len(study.trials)
    stale = fail_stale_trials(study, plan.workers)
    if stale:
        log(f"marked {len(stale)} stale RUNNING trial(s) {stale} as FAIL: their process no "
            "longer runs (a killed run); they do not count towards the target")
    study.set_user_attr(RUN_ATTR, plan.run_attr())
    write_run_file(plan)

    before = n_finished(study)
    outcome = RunOutcome(plan.study_name, plan.storage_url, plan.n_trials, before, stale=stale)
    remaining = plan.n_trials - before
    workers = plan.workers
    sampler_text = plan.sampler.name + (
        f" ({', '.join(f'{k}={v}' for k, v in plan.sampler.options.items())})"
        if plan.sampler.options else "")  # fmt: skip
    log(f"study {plan.study_name!r} in {plan.storage_url}: {before} finished, "
        f"{'running ' + str(remaining) + ' more' if remaining > 0 else 'target reached'} "
        f"(target {plan.n_trials}; sampler {sampler_text}, seed {plan.seed}, "
        f"{workers} worker{'s' if workers > 1 else ''})")
    if workers > (os.cpu_count() or 1):
        outcome.notes.append(f"{workers} workers on {os.cpu_count()} CPU cores will contend")

    start = time.perf_counter()
    bar = _Progress(study, plan, progress and remaining > 0)
    try:
        if remaining > 0 and workers == 1:
            sampler = build_sampler(plan.sampler, derived_seed(plan.seed, 0, n_existing))
            study.sampler = sampler
            objective = TrialObjective(space, plan.output_dir / ERROR_LOG)
            status = trial_loop(study, objective, plan.n_trials, after_trial=bar.update)
            outcome.stopped_failing = status == "failing"
        elif remaining > 0:
            outcome.stopped_failing = _run_workers(plan, n_existing, bar)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        with contextlib.suppress(Exception):
            bar.update()
        bar.close()
    outcome.wall_seconds = time.perf_counter() - start
    outcome.finished = n_finished(study)
    outcome.failed_now = bar.failed_now
    outcome.first_error = bar.first_error
    outcome.best = best_trial(study)
    if report and not outcome.interrupted and outcome.best is not None:
        from manifold_search.study_report import write_report

        outcome.report = write_report(study, plan.output_dir, main=plan.is_main,
                                      log=log)  # fmt: skip
    return outcome


def _run_workers(plan: StudyPlan, n_existing: int, bar: _Progress) -> bool:
    """Run ``plan.workers`` processes to the target; True if they stopped on failures."""
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    processes = []
    with thread_env(1):
        for k in range(plan.workers):
            process = ctx.Process(target=_worker_main, args=(plan, k, n_existing),
                                  name=f"manifold-search-worker-{k}", daemon=False)  # fmt: skip
            process.start()
            processes.append(process)
    try:
        while any(p.is_alive() for p in processes):
            wait([p.sentinel for p in processes if p.is_alive()], timeout=1.0)
            bar.update()
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches the workers too (one process group): give them
        # time to mark their trials FAIL; pass the interrupt on to any still running
        # (a signal sent to this process alone), then stop the ones that hang.
        for wait_s, action in ((2, "interrupt"), (10, "terminate")):
            deadline = time.monotonic() + wait_s
            for p in processes:
                p.join(timeout=max(0.0, deadline - time.monotonic()))
            for p in processes:
                if p.is_alive() and action == "interrupt":
                    with contextlib.suppress(OSError):
                        os.kill(p.pid, signal.SIGINT)
        for p in processes:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
        raise
    for p in processes:
        p.join()
    return any(p.exitcode == 3 for p in processes) and n_finished(bar.study) < plan.n_trials


def format_seconds(seconds: float) -> str:
    """``75.3`` -> ``1m15s``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


__all__ = [
    "RUN_ATTR",
    "RunError",
    "RunOutcome",
    "StudyPlan",
    "fail_stale_trials",
    "make_plan",
    "open_storage",
    "open_study",
    "run_study",
]
