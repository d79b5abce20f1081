"""Running trials: the trial loop, worker processes and stale-trial recovery.

Stale trials. A trial records the host, process id and process start time of the
worker running it (user attribute ``manifold_search:worker``). On (re)start, a
RUNNING trial whose process on this host no longer exists was left by a killed
run and is marked FAIL. With one worker on a file storage, RUNNING trials whose
owner cannot be checked (no record, or another host of a SQLite file) are failed
too; with several workers they are left alone. Database servers get Optuna's
heartbeat instead: a trial whose worker died on any machine is failed by the next
worker that asks for a trial once it has missed 3 heartbeats, and retried once
(:class:`~manifold_search.study.storage.RetryStaleTrial`); a worker with nothing
left to start waits for the other workers' running trials, so a dead worker's
trial is retried and the target reached.

Parallel workers. ``workers=K`` starts K processes (``spawn`` context, one
torch/BLAS thread each) on the shared storage. Each worker seeds its sampler from
the study seed and the number of the first trial it creates (:mod:`.seeds`):
trial numbers are unique, so no two workers, of one ``run`` or of separate ``run``
commands on one study, share a seed or repeat each other's random start-up
configurations. Every worker stops when finished plus running trials reach the
target, so a study overshoots by at most K - 1 trials.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search._attrs import ERROR, WORKER, read_attr
from manifold_search._signals import die_with_parent, interrupts_kept, sigterm_as_interrupt
from manifold_search._threads import thread_env
from manifold_search.study.config import build_section_sampler, build_space
from manifold_search.study.heartbeat import TrialHeartbeat, failed_as_stale
from manifold_search.study.plan import StudyPlan
from manifold_search.study.seeds import FirstTrialSeeded
from manifold_search.study.storage import (
    ERROR_LOG,
    counts,
    heartbeat_of,
    n_finished,
    open_storage,
)

#: Consecutive failed trials after which a worker stops (a broken setup, not bad luck).
MAX_CONSECUTIVE_FAILURES = 3


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


#: A RUNNING trial without a worker record younger than this may be another process's
#: trial between its creation and its record; it is not failed as stale.
FRESH_SECONDS = 60.0


def _just_started(trial: FrozenTrial) -> bool:
    start = trial.datetime_start  # Optuna stores local naive time
    return start is not None and (datetime.now() - start).total_seconds() < FRESH_SECONDS


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.BaseStorage,
                      workers: int = 1) -> list[int]:  # fmt: skip
    """Mark RUNNING trials left by killed processes as FAIL; return their numbers.

    ``storage`` is the storage object ``study`` was opened on. A trial whose worker
    process on this host is gone is stale (on a database server it is retried once, as
    Optuna's heartbeat would after its grace period). With ``workers == 1`` on a file
    storage a trial whose owner cannot be checked is taken as stale too: another ``run``
    on this host is recognised by its live pid, but one on another host sharing a SQLite
    file is not; there, use ``--workers`` or a database server. A trial with no worker
    record at all that started less than ``FRESH_SECONDS`` ago is left alone: it is
    another ``run``'s trial in the moment between its creation and its record (two runs
    started together). On a database server trials whose owner cannot be checked (other
    machines') are left to Optuna's heartbeat check, which runs here as well.
    """
    optuna.storages.fail_stale_trials(study)
    heartbeat = heartbeat_of(storage)
    study_id = storage.get_study_id_from_name(study.study_name)
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = read_attr(trial.user_attrs, WORKER)
        alive = owner_alive(record)
        if record is None and _just_started(trial):
            continue
        if alive is False or (alive is None and workers == 1 and not heartbeat):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            try:
                storage.set_trial_user_attr(
                    trial_id, ERROR, "stale: left RUNNING by a process that no longer runs (killed run)"
                )
                if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                    stale.append(trial.number)
                    if heartbeat:  # retried, as after a stale heartbeat
                        retry = storage.get_heartbeat_stale_trial_callback()
                        retry(study, storage.get_trial(trial_id))
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # finished meanwhile by its owner
    return stale


def seeded_sampler(plan: StudyPlan) -> FirstTrialSeeded:
    """The plan's sampler, seeded at this worker's first trial (the rule in :mod:`.seeds`)."""
    return FirstTrialSeeded(lambda seed: build_section_sampler(plan.sampler, seed), plan.seed)


class TrialObjective:
    """The space's objective plus bookkeeping: the worker record, and the error of a
    failed trial (one line as a user attribute, the traceback in ``errors.log``)."""

    def __init__(self, space: Any, error_log: Path | None = None) -> None:
        self.space = space
        self.error_log = error_log
        self.record = worker_record()

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            seed = getattr(trial.study.sampler, "worker_seed", None)  # set by FirstTrialSeeded
            trial.set_user_attr(WORKER, self.record if seed is None else {**self.record, "seed": seed})
            return self.space.objective(trial)
        except optuna.TrialPruned:
            raise
        except KeyboardInterrupt:
            _try(lambda: trial.set_user_attr(ERROR, "interrupted (Ctrl-C)"))
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:400]
            _try(lambda: trial.set_user_attr(ERROR, message))
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
    deadline: float | None = None,
    storage: optuna.storages.BaseStorage | None = None,
) -> str:
    """Run trials until finished + running trials reach ``target``.

    ``storage`` is the storage ``study`` was opened on. With a heartbeat (database
    servers) a trial's heartbeat is kept up until it is stored
    (:class:`~manifold_search.study.heartbeat.TrialHeartbeat`), and at the end the loop
    waits while other workers' trials run, failing stale ones (Optuna's
    ``fail_stale_trials``, which ``optimize`` also calls before each trial), so that the
    retry of a trial whose worker died is run here and the target is reached; it returns
    when ``target`` trials are finished or no running trial is a manifold-search worker's.

    Returns ``"done"``, ``"failing"`` (MAX_CONSECUTIVE_FAILURES trials in a row failed)
    or ``"timeout"`` (``time.monotonic()`` passed ``deadline``: as Optuna's ``timeout``,
    checked after each trial, so one always runs; none starts after it).
    KeyboardInterrupt propagates (Optuna has marked the trial FAIL).
    """
    heartbeat = heartbeat_of(storage) if storage is not None else None
    beats = TrialHeartbeat(study, storage, heartbeat) if heartbeat else None
    with beats or contextlib.nullcontext():
        return _loop(study, objective, target, after_trial, beats, deadline)


def _loop(study: optuna.Study, objective: Callable[[optuna.Trial], float], target: int,
          after_trial: Callable[[], None] | None, beats: TrialHeartbeat | None,
          deadline: float | None) -> str:  # fmt: skip
    failures = 0
    last: list[FrozenTrial] = []

    def remember(_study: optuna.Study, trial: FrozenTrial) -> None:
        last.append(trial)

    def run(trial: optuna.Trial) -> float:
        if beats is not None:
            beats.follow(trial)
        return objective(trial)

    while True:
        c = counts(study)
        if c["COMPLETE"] + c["PRUNED"] + c["RUNNING"] >= target:
            if beats is None or c["COMPLETE"] + c["PRUNED"] >= target or not _workers_running(study):
                return "done"
            time.sleep(beats.poll_seconds)  # the others' trials finish, or go stale
            optuna.storages.fail_stale_trials(study)
            if after_trial is not None:
                after_trial()
            continue
        if deadline is not None and last and time.monotonic() >= deadline:
            return "timeout"  # checked after a trial, as Optuna's timeout: one always runs
        last.clear()
        lost = False  # failed as stale by another worker: this process paused past the grace
        try:
            with interrupts_kept():  # Ctrl-C while Optuna records the result stays an interrupt
                study.optimize(run, n_trials=1, catch=(Exception,), callbacks=[remember])
        except AssertionError as exc:
            if not failed_as_stale(exc):
                raise
            lost = True
        finally:
            if beats is not None:
                beats.release()
        if after_trial is not None:
            after_trial()
        failures = failures + 1 if lost or (last and last[-1].state == TrialState.FAIL) else 0
        if failures >= MAX_CONSECUTIVE_FAILURES:
            return "failing"


def _workers_running(study: optuna.Study) -> bool:
    """Whether a RUNNING trial was started by a manifold-search worker (it sends heartbeats,
    so it finishes or goes stale); a trial of someone's own code may never do either."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return any(read_attr(t.user_attrs, WORKER) is not None for t in running)


def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are reported by the runner
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _worker_main(plan: StudyPlan, deadline: float | None = None) -> None:
    """Entry point of a worker process (spawn): one torch thread, the shared storage."""
    import torch

    sigterm_as_interrupt()
    die_with_parent()
    torch.set_num_threads(1)
    quiet_optuna()
    try:
        space = build_space(plan.config.space, plan.config.path)
        storage = open_storage(plan.storage_url, heartbeat=plan.heartbeat)
        study = optuna.load_study(study_name=plan.study_name, storage=storage,
                                  sampler=seeded_sampler(plan), pruner=plan.pruner.build())  # fmt: skip
        objective = TrialObjective(space, plan.output_dir / ERROR_LOG)
        status = trial_loop(study, objective, plan.n_trials, deadline=deadline, storage=storage)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(3 if status == "failing" else 0)


#: Exit codes of a worker that stopped on its own: done, interrupted, trials kept failing.
_WORKER_EXITS = (0, 130, 3)


def run_workers(plan: StudyPlan, study: optuna.Study, on_tick: Callable[[], None],
                deadline: float | None = None) -> tuple[bool, list[str]]:  # fmt: skip
    """Run ``plan.workers`` processes to the target.

    Returns (stopped on failures, workers that died): a worker killed from outside
    (SIGKILL, out of memory) is not replaced, and the run reports it and exits non-zero.
    Its trial is failed as stale on resume; on a database server the other workers fail
    it once its heartbeat is stale, run its retry and reach the target.
    """
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("spawn")
    processes = []
    with thread_env(1):
        for k in range(plan.workers):
            process = ctx.Process(target=_worker_main, args=(plan, deadline),
                                  name=f"manifold-search-worker-{k}", daemon=False)  # fmt: skip
            process.start()
            processes.append(process)
    try:
        while any(p.is_alive() for p in processes):
            wait([p.sentinel for p in processes if p.is_alive()], timeout=1.0)
            on_tick()
    except KeyboardInterrupt:
        _stop(processes)
        raise
    for p in processes:
        p.join()
    dead = [f"worker {k} (pid {p.pid}) {_exit_text(p.exitcode)}"
            for k, p in enumerate(processes) if p.exitcode not in _WORKER_EXITS]
    failing = any(p.exitcode == 3 for p in processes) and n_finished(study) < plan.n_trials
    return failing, dead


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _stop(processes: list[Any]) -> None:
    """After Ctrl-C: a terminal's Ctrl-C reaches the workers too (one process group), so
    give them time to mark their trials FAIL; pass the interrupt on to any still running
    (a signal sent to this process alone), then stop the ones that hang."""
    for wait_s, action in ((2, "interrupt"), (30, "terminate")):
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
        if p.is_alive():  # stuck even so: never leave a worker training behind
            p.kill()
            p.join(timeout=5)
