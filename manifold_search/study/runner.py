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
from manifold_search.study.config import build_section_sampler, build_space
from manifold_search.study.plan import StudyPlan, objective_label
from manifold_search.study.storage import (
    ERROR_LOG,
    FINISHED,
    RUN_FILE,
    RunError,
    best_trial,
    n_finished,
    open_storage,
    trials_span,
)
from manifold_search.study.workers import (
    TrialObjective,
    derived_seed,
    fail_stale_trials,
    quiet_optuna,
    run_workers,
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


class _Progress:
    """A tqdm bar over finished trials with the best value, plus one line per failure."""

    def __init__(self, study: optuna.Study, plan: StudyPlan, enabled: bool) -> None:
        self.study = study
        self.seen_failed = {t.number for t in study.get_trials(deepcopy=False,
                                                                 states=(TrialState.FAIL,))}  # fmt: skip
        self.first_error: str | None = None
        self.failed_now = 0
        self.bar = _bar_class()(
            total=plan.n_trials, initial=min(n_finished(study), plan.n_trials),
            desc=plan.study_name, unit="trial", file=sys.stderr, dynamic_ncols=True,
            disable=not enabled, mininterval=0,  # every update drawn: Ctrl-C leaves the last
            bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| [{elapsed}<{remaining}]"
            "{postfix}",
        )  # fmt: skip
        self.update()

    def _new_failures(self, trials: list[FrozenTrial]) -> list[tuple[int, str]]:
        """FAIL trials not seen before, as (number, error); counted once each."""
        out = []
        for t in trials:
            if t.state == TrialState.FAIL and t.number not in self.seen_failed:
                self.seen_failed.add(t.number)
                out.append((t.number, str(read_attr(t.user_attrs, ERROR, "no error recorded"))))
        return out

    def _count(self, failures: list[tuple[int, str]]) -> None:
        for number, error in failures:
            self.failed_now += 1
            self.first_error = self.first_error or f"trial {number}: {error}"

    def update(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        done = sum(t.state in FINISHED for t in trials)
        failures = self._new_failures(trials)
        self._count(failures)
        for number, error in failures:
            self.bar.write(f"trial {number} failed: {error}", file=sys.stderr)
        best = best_trial(self.study)
        if best is not None:
            self.bar.set_postfix_str(f"best {best.value:.4g} (trial {best.number})", refresh=False)
        self.bar.update(min(done, self.bar.total) - self.bar.n)

    def close(self) -> None:
        self.bar.close()

    def interrupted(self) -> None:
        """After Ctrl-C: end the bar's line once and draw nothing more.

        The bar as last drawn is up to date (every update is drawn). A failure line or
        a final redraw would draw a second bar below it; the trial stopped by Ctrl-C is
        no failure (the run's closing lines say how to resume), failures before it are
        still counted."""
        with contextlib.suppress(Exception):
            self._count([f for f in self._new_failures(self.study.get_trials(deepcopy=False))
                         if not f[1].startswith("interrupted")])  # fmt: skip
        if not self.bar.disable:
            self.bar.fp.write("\n")
            self.bar.fp.flush()
        self.bar.leave = False  # close() now clears the (empty) new line, draws no bar
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
    storage = storage or open_storage(plan.storage_url)
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
    storage = open_storage(plan.storage_url)
    space = build_space(plan.config.space, plan.config.path)
    _load_data(space, plan.config.path)
    try:
        plan.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"output_dir {plan.output_dir}: cannot create it ({exc.strerror}); choose "
                       "a writable folder with [study] output_dir") from None
    study = open_study(plan, storage)
    place_artifacts(study, plan)
    n_existing = len(study.trials)
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
    _run_trials(study, plan, space, n_existing, outcome, progress)
    outcome.wall_seconds = time.perf_counter() - start
    outcome.study_seconds = trials_span(study)
    outcome.finished = n_finished(study)
    outcome.best = best_trial(study)
    if report and not outcome.interrupted and outcome.best is not None:
        from manifold_search.study.report import write_report

        outcome.report = write_report(study, plan.output_dir, main=plan.is_main, log=log,
                                      storage_url=plan.storage_url)  # fmt: skip
        if plan.config.refine is not None and plan.is_main:
            from manifold_search.refine.study import refine_study

            outcome.refine = refine_study(study, outcome.report.parent, plan.config.refine,
                                          space=space, progress=progress, log=log)  # fmt: skip
    return outcome


def _run_trials(study: optuna.Study, plan: StudyPlan, space: Any, n_existing: int,
                outcome: RunOutcome, progress: bool) -> None:  # fmt: skip
    """Train until the target (in this process, or in worker processes); fill ``outcome``."""
    remaining = plan.n_trials - outcome.finished_before
    bar = _Progress(study, plan, progress and remaining > 0)
    try:
        if remaining > 0 and plan.workers == 1:
            study.sampler = build_section_sampler(plan.sampler,
                                                  derived_seed(plan.seed, 0, n_existing))  # fmt: skip
            objective = TrialObjective(space, plan.output_dir / ERROR_LOG)
            status = trial_loop(study, objective, plan.n_trials, after_trial=bar.update)
            outcome.stopped_failing = status == "failing"
        elif remaining > 0:
            outcome.stopped_failing, outcome.dead_workers = run_workers(plan, n_existing, study,
                                                                        bar.update)  # fmt: skip
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        if outcome.interrupted:
            bar.interrupted()
        else:
            with contextlib.suppress(Exception):
                bar.update()
            bar.close()
    outcome.failed_now = bar.failed_now
    outcome.first_error = bar.first_error


__all__ = ["RunOutcome", "objective_label", "open_study", "run_study", "write_run_file"]
