"""Where studies live: the error base class, file names, and opening storages and studies.

Every error of the study layer is a :class:`StudyError` (a ``ValueError``) whose
message is one line naming the problem and the fix; the commands print it and
exit with status 2.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from manifold_search._attrs import ERROR, WORKER

#: File in the output directory naming the storage and study of each study run there.
RUN_FILE = "run.json"
#: File in the output directory collecting full tracebacks of failed trials.
ERROR_LOG = "errors.log"
#: Default seconds between heartbeats of a running trial on a database server
#: (``[study] heartbeat``); a trial silent for STALE_AFTER heartbeats is failed and retried.
HEARTBEAT_SECONDS = 20
STALE_AFTER = 3
#: Trial states that count towards a study's target.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class StudyError(ValueError):
    """A study cannot be configured, run or reported as asked (the message says how to fix it)."""


class RunError(StudyError):
    """The study cannot be run as asked."""


class ReportError(StudyError):
    """No study to report on (the message says where it looked and what to give)."""


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, else None."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def journal_path(url: str) -> Path | None:
    """The file of a ``journal:///`` URL (``journal:////abs.log`` absolute, as SQLite's) or a
    bare ``x.log`` path, else None."""
    if url.startswith("journal:///"):
        return Path(url[len("journal:///"):])
    if "://" not in url and url.endswith(".log"):
        return Path(url)
    return None


def storage_file(url: str) -> Path | None:
    """The file a SQLite or journal URL names (its artifacts can live beside it), else None."""
    return sqlite_path(url) or journal_path(url)


def driver_url(url: str) -> str:
    """``postgresql://`` with the driver installed with manifold-search (psycopg 3).

    SQLAlchemy's default PostgreSQL driver is psycopg2, which is not installed;
    an explicit ``postgresql+driver://`` is kept as given.
    """
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def _open_journal(path: Path, create: bool) -> optuna.storages.BaseStorage:
    """Optuna's JournalStorage on a file (appends are safe on a shared disk such as NFS)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not create and not path.is_file():
        raise ReportError(f"{path}: no such journal file; run 'manifold-search run CONFIG' first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as exc:
        raise RunError(f"journal storage {path}: cannot create it ({exc.strerror})") from None


def open_storage(url: str, *, create: bool = True,
                 heartbeat: int = HEARTBEAT_SECONDS) -> optuna.storages.BaseStorage:  # fmt: skip
    """The storage of ``url``: SQLite with a long lock timeout (several processes write to
    one file); a journal file; database servers with Optuna's heartbeat every ``heartbeat``
    seconds, so a trial whose worker died (on any machine) is failed after STALE_AFTER
    missed heartbeats and retried once (:class:`RetryStaleTrial`). With ``create=False``
    a missing file is an error instead of a new empty study."""
    journal = journal_path(url)
    if journal is not None:
        return _open_journal(journal, create)
    path = sqlite_path(url)
    if path is not None:
        if not create and not path.is_file():
            raise ReportError(f"{url}: no such database file; run 'manifold-search run CONFIG' "
                              "first, or give the --storage URL of the study")  # fmt: skip
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"storage {url!r}: cannot create {path.parent} ({exc})") from None
        kwargs: dict[str, Any] = {"engine_kwargs": {"connect_args": {"timeout": 60}}}
    else:
        kwargs = {"heartbeat_interval": heartbeat, "grace_period": STALE_AFTER * heartbeat,
                  "heartbeat_stale_trial_callback": RetryStaleTrial()}
    try:
        return _rdb_storage(driver_url(url), kwargs)
    except Exception as exc:  # bad URL, missing driver, unreachable server
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(
            f"cannot open storage {url!r}: {first}; check the URL (e.g. "
            "sqlite:///runs/x/study.db) and that its database driver is installed"
        ) from None


#: Attempts at opening a database whose tables another process is creating at that moment.
_SCHEMA_RACE_ATTEMPTS = 5


def _rdb_storage(url: str, kwargs: dict[str, Any]) -> optuna.storages.RDBStorage:
    """``RDBStorage(url)``, again when another process created the tables meanwhile.

    Two ``run`` commands started together on a new database both create Optuna's tables;
    the slower one fails with a unique-constraint error on ``alembic_version`` (or "table
    already exists"). Opening again then finds the tables made.
    """
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(_SCHEMA_RACE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **kwargs)
        except (IntegrityError, OperationalError) as exc:
            race = isinstance(exc, IntegrityError) or "already exists" in str(exc)
            if not race or attempt == _SCHEMA_RACE_ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


class RetryStaleTrial:
    """Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)``: a trial failed for a stale
    heartbeat comes back once as a WAITING trial with the same parameters (Optuna records
    ``failed_trial`` and ``retry_history`` on it), which the next worker to ask runs.
    The copy leaves out the dead worker's record and the failure's error, so that no
    stale-trial check takes the retry for a trial of that dead process between its start
    and its new record."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        trial.user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in (WORKER, ERROR)}
        self._retry(study, trial)


def heartbeat_of(storage: optuna.storages.BaseStorage) -> int | None:
    """The storage's heartbeat interval in seconds (None: no heartbeat, e.g. SQLite, journal)."""
    return getattr(storage, "heartbeat_interval", None)


def stale_note(trial: FrozenTrial, trials: list[FrozenTrial]) -> str | None:
    """Why a FAIL trial without an error failed, when Optuna failed it for a stale heartbeat
    (its worker died): the retry that names it as ``failed_trial``; else None."""
    retries = [t.number for t in trials if trial.number in t.system_attrs.get("retry_history", ())]
    if not retries:
        return None
    return (f"its worker stopped sending heartbeats (the process or machine died); "
            f"retried as trial {retries[0]}")


def load_study(storage: str, name: str) -> optuna.Study:
    """An existing study (for reading: report, explore)."""
    return optuna.load_study(study_name=name, storage=open_storage(storage, create=False))


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


def trials_span(study: optuna.Study) -> float:
    """Seconds from the first trial's start to the last trial's end (nan without trials)."""
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
