"""A trial's heartbeat kept up until the trial is stored as finished.

Optuna's heartbeat thread beats only while the objective runs. After it returns,
Optuna calls the sampler's ``after_trial`` *before* it stores the trial's state,
and the manifold sampler places the new network there (loading records, a PHATE
fit: seconds, more on a loaded machine or a large study). A trial that sends no
heartbeat for 3 intervals in that window is failed as stale by another worker,
although its worker is alive, and storing its result then fails (Optuna turns the
``UpdateFinishedTrialError`` into an ``AssertionError``), which used to kill the
worker. :class:`TrialHeartbeat` beats for the trial from the objective's start
until ``optimize`` returns; :func:`failed_as_stale` recognises that failure when
the worker was paused for longer than the grace period all the same.
"""

from __future__ import annotations

import contextlib
import threading
from types import TracebackType

import optuna


class TrialHeartbeat:
    """A thread that records the heartbeat of the trial this process runs (``follow`` at
    the objective's start, ``release`` once ``optimize`` has returned)."""

    def __init__(self, study: optuna.Study, storage: optuna.storages.BaseStorage,
                 interval: int) -> None:  # fmt: skip
        self._storage = storage
        self._study_id = storage.get_study_id_from_name(study.study_name)
        self._interval = interval
        self._trial_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="manifold-search-heartbeat",
                                        daemon=True)  # fmt: skip

    def __enter__(self) -> TrialHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        self._thread.join(timeout=self._interval)  # a daemon: a hung database call is left

    @property
    def poll_seconds(self) -> float:
        """How often to look at other workers' running trials while waiting for them."""
        return min(self._interval, 5)

    def follow(self, trial: optuna.Trial) -> None:
        """Beat for ``trial`` from now on (called from the objective)."""
        self._trial_id = self._storage.get_trial_id_from_study_id_trial_number(
            self._study_id, trial.number)

    def release(self) -> None:
        self._trial_id = None

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            trial_id = self._trial_id
            if trial_id is not None:
                with contextlib.suppress(Exception):  # a lost beat is Optuna's grace period's job
                    self._storage.record_heartbeat(trial_id)  # type: ignore[attr-defined]


def failed_as_stale(exc: BaseException) -> bool:
    """Whether ``optimize`` raised because another worker had failed this trial as stale
    before its result was stored (its retry runs instead; this worker can go on)."""
    return isinstance(exc, AssertionError) and isinstance(
        exc.__context__, optuna.exceptions.UpdateFinishedTrialError)
