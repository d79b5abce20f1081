"""The study runner: a plan in, a resumable Optuna study of trained networks out.

:func:`run_study` opens (or creates) the plan's study in its storage (by default a
SQLite file ``<output_dir>/study.db`` with the artifact store of the recorded
networks beside it, ``study.db.artifacts/``), then trains networks from the
config's search space until the study holds ``n_trials`` finished trials
(COMPLETE or PRUNED). Running it again resumes: finished trials are counted,
never repeated. Trial loop, workers and stale trials: :mod:`.workers`.

Pruning: ``[pruner]`` (or ``--pruner``) picks one of Optuna's pruners; by default
none, so every trial trains its full budget. A pruned trial records the network it
has when it is stopped, so it still takes its place on the manifold.

Ctrl-C stops the study: the trial in progress is marked FAIL (its error reads
"interrupted"), finished trials are already in the storage, and the same command
resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search._attrs import ERROR, RUN, read_attr
from manifold_search._jsonio import write_json_atomic
from manifold_search.study.config import build_space
from manifold_search.study.plan import StudyPlan, objective_label
from manifold_search.study.storage import (
    ERROR_LOG,
    FINISHED,
    RUN_FILE,
    RunError,
    best_trial,
    n_finished,
    open_storage,
    stale_note,
    trials_span,
)
from manifold_search.study.workers import (
    TrialObjective,
    fail_stale_trials,
    quiet_optuna,
    run_workers,
    seeded_sampler,
    trial_loop,
)


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
    timed_out: bool = False  # stopped at [study] timeout / --timeout short of the target
    dead_workers: list[str] = field(default_factory=list)
    first_error: str | None = None
    wall_seconds: float = 0.0  # this run
    study_seconds: float = float("nan")  # first trial start to last trial end, all runs
    best: FrozenTrial | None = None
    report: Path | None = None
    refine: Path | None = None  # refine.md of the [refine] stage, when the config has one
    notes: list[str] = field(default_factory=list)


def _bar_class():
    """tqdm (``tqdm.auto``: the notebook bar in Jupyter) keeping 2 columns free at the end.

    A terminal echoes Ctrl-C as ``^C`` behind the bar; on a full-width bar the echo wraps
    to the next line, a carriage return reaches only that line, and every later redraw
    leaves one more bar on the screen (issue 12: 2-3 bars after Ctrl-C). Overriding
    ``format_dict`` is tqdm's documented way to change what a bar is drawn with."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        @property
        def format_dict(self):
            d = super().format_dict
            if d.get("ncols"):
                d["ncols"] = max(20, d["ncols"] - 2)
            return d

    return _Bar


#: Seconds a failed trial without an error waits for the retry that explains it.
FAILURE_NOTE_WAIT = 10.0


class _Progress:
    """A tqdm bar over finished trials with the best value, plus one line per failure.

    While a trial trains, a background thread reads the running trials' reported
    epochs from the storage every second and shows them ("trial 12 epoch 7/15"), so a
    long trial shows signs of life; this works alike for one process and for workers.
    """

    def __init__(self, study: optuna.Study, plan: StudyPlan, enabled: bool,
                 epochs: int | None = None) -> None:  # fmt: skip
        self.study = study
        self.epochs = epochs
        self.best_text = ""
        self._stop = threading.Event()
        self.seen_failed = {t.number for t in study.get_trials(deepcopy=False,
                                                                 states=(TrialState.FAIL,))}  # fmt: skip
        self.first_error: str | None = None
        self.failed_now = 0
        self.unexplained: dict[int, float] = {}  # FAIL trials without an error: first seen
        self.bar = _bar_class()(
            total=plan.n_trials, initial=min(n_finished(study), plan.n_trials),
            desc=plan.study_name, unit="trial", file=sys.stderr, dynamic_ncols=True,
            disable=not enabled, mininterval=0,  # every update drawn: Ctrl-C leaves the last
            bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| [{elapsed}<{remaining}]"
            "{postfix}",
        )  # fmt: skip
        self.update()
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        if enabled:
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):  # a busy database: show it next second
                self.bar.set_postfix_str(self._postfix(running_epochs(self.study)))

    def _postfix(self, running: dict[int, int]) -> str:
        total = f"/{self.epochs}" if self.epochs else ""
        live = ", ".join(f"trial {n} epoch {e}{total}" for n, e in sorted(running.items())[:3])
        return " · ".join(x for x in (self.best_text, live) if x)

    def update(self, final: bool = False) -> None:
        """Show progress and new failures; a failure without a recorded error waits up to
        FAILURE_NOTE_WAIT seconds (unless ``final``): Optuna fails a trial whose heartbeat
        stopped a moment before its retry says why."""
        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state in FINISHED for t in trials)
        for t in trials:
            if t.state == TrialState.FAIL and t.number not in self.seen_failed:
                error = read_attr(t.user_attrs, ERROR) or stale_note(t, trials)
                first_seen = self.unexplained.setdefault(t.number, time.monotonic())
                if error is None and not final and time.monotonic() - first_seen < FAILURE_NOTE_WAIT:
                    continue
                error = error or "no error recorded"
                self._count_failure(t.number, error)
                self.bar.write(f"trial {t.number} failed: {error}", file=sys.stderr)
        best = best_trial(self.study)
        if best is not None:
            self.best_text = f"best {best.value:.4g} (trial {best.number})"
            self.bar.set_postfix_str(self.best_text, refresh=False)
        self.bar.update(min(done, self.bar.total) - self.bar.n)

    def _count_failure(self, number: int, error: str) -> None:
        self.seen_failed.add(number)
        self.failed_now += 1
        self.first_error = self.first_error or f"trial {number}: {error}"

    def _stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join(timeout=5)

    def close(self) -> None:
        self._stop_ticker()
        self.bar.close()

    def interrupted(self) -> None:
        """After Ctrl-C: end the bar's line once and draw nothing more.

        The bar as last drawn is up to date (every update is drawn). A failure line or
        a final redraw would draw a second bar below it; the trial stopped by Ctrl-C is
        no failure (the run's closing lines say how to resume), failures before it are
        still counted."""
        self._stop_ticker()  # the epoch ticker would redraw the bar below the line's end
        with contextlib.suppress(Exception):
            for t in self.study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
                if t.number in self.seen_failed:
                    continue
                error = str(read_attr(t.user_attrs, ERROR, "no error recorded"))
                if error.startswith("interrupted"):
                    self.seen_failed.add(t.number)  # the trial Ctrl-C stopped: no failure
                else:
                    self._count_failure(t.number, error)
        if not self.bar.disable:
            self.bar.fp.write("\n")
            self.bar.fp.flush()
        self.bar.leave = False  # close() now clears the (empty) new line, draws no bar
        self.bar.close()


def running_epochs(study: optuna.Study) -> dict[int, int]:
    """Running trial number -> epochs it has reported (1-based; 0 before the first)."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return {t.number: (max(t.intermediate_values) + 1 if t.intermediate_values else 0)
            for t in running}


def write_run_file(plan: StudyPlan) -> None:
    """Record in the output directory where this study lives (for report/explore)."""
    path = plan.output_dir / RUN_FILE
    data: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text())
    studies = data.get("studies") if isinstance(data.get("studies"), dict) else {}
    studies[plan.study_name] = plan.storage_url
    data = {"study": plan.config.study.name, "config": plan.config.path, "studies": studies}
    write_json_atomic(path, data, indent=2)


def _check_resumable(study: optuna.Study, plan: StudyPlan) -> None:
    stored = read_attr(study.user_attrs, RUN)
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


def open_study(plan: StudyPlan, storage: optuna.storages.BaseStorage | None = None) -> optuna.Study:
    """Create or load the plan's study and check that it may be resumed."""
    storage = storage or open_storage(plan.storage_url, heartbeat=plan.heartbeat)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study = optuna.create_study(
                study_name=plan.study_name, storage=storage,
                direction=plan.config.study.direction, load_if_exists=True,
                pruner=plan.pruner.build(),
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
    if study.metric_names is None:  # optuna-dashboard shows it instead of "Objective 0"
        study.set_metric_names([objective_label(plan.config.space.name)])
    return study


def place_artifacts(study: optuna.Study, plan: StudyPlan) -> None:
    """Open and test ``[study] artifacts`` and write it on the study, before any training,
    so that every worker (on any machine) records into the same store."""
    from manifold_search.artifact_stores import (
        ArtifactStoreError,
        check_store,
        open_store,
        remember_location,
    )

    location = plan.config.artifact_location()
    if location is None:
        return
    endpoint = plan.config.study.artifacts_endpoint
    try:
        check_store(open_store(location, endpoint_url=endpoint), location)
        remember_location(study, location, endpoint)
    except ArtifactStoreError as exc:
        raise RunError(f"{plan.config.path}: [study] artifacts: {exc}") from None


def _load_data(space: Any, path: str) -> None:
    """Load the space's data and probe once, so that missing data fails before training."""
    try:
        if hasattr(space, "probe"):
            space.probe()
    except (OSError, RuntimeError, ValueError) as exc:
        raise RunError(f"{path}: search space data: {str(exc).splitlines()[0]}") from None


def _start_line(plan: StudyPlan, before: int) -> str:
    remaining = plan.n_trials - before
    options = ", ".join(f"{k}={v}" for k, v in plan.sampler.options.items())
    sampler_text = plan.sampler.name + (f" ({options})" if options else "")
    return (f"study {plan.study_name!r} in {plan.storage_url}: {before} finished, "
            f"{'running ' + str(remaining) + ' more' if remaining > 0 else 'target reached'} "
            f"(target {plan.n_trials}; sampler {sampler_text}, seed {plan.seed}, "
            f"{plan.workers} worker{'s' if plan.workers > 1 else ''})")  # fmt: skip


def run_study(plan: StudyPlan, *, progress: bool = True, report: bool = True,
              log: Callable[[str], None] | None = None) -> RunOutcome:  # fmt: skip
    """Run ``plan`` to its target, then (unless ``report=False``) write the study report."""
    log = log or (lambda message: print(message, file=sys.stderr))
    quiet_optuna()
    storage = open_storage(plan.storage_url, heartbeat=plan.heartbeat)
    space = build_space(plan.config.space, plan.config.path)
    _load_data(space, plan.config.path)
    try:
        plan.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"output_dir {plan.output_dir}: cannot create it ({exc.strerror}); choose "
                       "a writable folder with [study] output_dir") from None
    study = open_study(plan, storage)
    place_artifacts(study, plan)
    stale = fail_stale_trials(study, storage, plan.workers)
    if stale:
        log(f"marked {len(stale)} stale RUNNING trial(s) {stale} as FAIL: their process no "
            "longer runs (a killed run); they do not count towards the target")
    study.set_user_attr(RUN, plan.run_attr())
    write_run_file(plan)
    before = n_finished(study)
    outcome = RunOutcome(plan.study_name, plan.storage_url, plan.n_trials, before, stale=stale)
    log(_start_line(plan, before))
    if plan.workers > (os.cpu_count() or 1):
        outcome.notes.append(f"{plan.workers} workers on {os.cpu_count()} CPU cores will contend")
    start = time.perf_counter()
    _run_trials(study, plan, space, outcome, progress, storage)
    outcome.wall_seconds = time.perf_counter() - start
    outcome.study_seconds = trials_span(study)
    outcome.finished = n_finished(study)
    outcome.best = best_trial(study)
    outcome.timed_out = (plan.timeout is not None and outcome.finished < plan.n_trials
                         and not (outcome.interrupted or outcome.stopped_failing))
    if report and not outcome.interrupted and outcome.best is not None:
        from manifold_search.study.report import write_report

        outcome.report = write_report(study, plan.output_dir, main=plan.is_main, log=log,
                                      storage_url=plan.storage_url)  # fmt: skip
        if plan.config.refine is not None and plan.is_main and not outcome.timed_out:
            from manifold_search.refine.study import refine_study

            try:
                outcome.refine = refine_study(study, outcome.report.parent, plan.config.refine,
                                              space=space, progress=progress, log=log)  # fmt: skip
            except KeyboardInterrupt:  # Ctrl-C / SIGTERM in [refine]: rerunning redoes it
                outcome.interrupted = True
                return outcome
            # again, now with the sparse networks beside their originals on the manifold plot
            outcome.report = write_report(study, plan.output_dir, main=plan.is_main, log=log,
                                          storage_url=plan.storage_url)  # fmt: skip
    return outcome


def _run_trials(study: optuna.Study, plan: StudyPlan, space: Any, outcome: RunOutcome,
                progress: bool, storage: optuna.storages.BaseStorage) -> None:  # fmt: skip
    """Train until the target (in this process, or in worker processes); fill ``outcome``.
    ``storage``: the one ``study`` was opened on."""
    remaining = plan.n_trials - outcome.finished_before
    bar = _Progress(study, plan, progress and remaining > 0, getattr(space, "epochs", None))
    # CLOCK_MONOTONIC is one clock for every process of this machine, so workers share it.
    deadline = None if plan.timeout is None else time.monotonic() + plan.timeout
    try:
        if remaining > 0 and plan.workers == 1:
            study.sampler = seeded_sampler(plan)  # seeded at its first trial (study/seeds.py)
            objective = TrialObjective(space, plan.output_dir / ERROR_LOG)
            status = trial_loop(study, objective, plan.n_trials, after_trial=bar.update,
                                deadline=deadline, storage=storage)  # fmt: skip
            outcome.stopped_failing = status == "failing"
        elif remaining > 0:
            outcome.stopped_failing, outcome.dead_workers = run_workers(
                plan, study, bar.update, deadline)
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        if outcome.interrupted:
            bar.interrupted()
        else:
            with contextlib.suppress(Exception):
                bar.update(final=True)
            bar.close()
    outcome.failed_now = bar.failed_now
    outcome.first_error = bar.first_error


__all__ = ["RunOutcome", "objective_label", "open_study", "run_study", "write_run_file"]
