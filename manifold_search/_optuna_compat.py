"""Every use of Optuna's private API in manifold-search, in one place.

Optuna gives a sampler no public way to write a user attribute on the trial it is
sampling for (``sample_independent`` and ``after_trial`` receive a ``FrozenTrial``),
to test whether a value lies in a distribution, or to find the file behind a study's
storage (where the records' artifact folder goes). Those few needs are met here, and
only here, through private names; ``tests/test_optuna_compat.py`` exercises each one
against the installed Optuna, so an Optuna release that renames one fails that test
by name instead of breaking a study. Everything else uses Optuna's public API.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial

_SQLITE = "sqlite:///"


def full_study(study: optuna.Study) -> optuna.Study:
    """The whole study behind HyperbandPruner's per-bracket view (``_BracketStudy._study``).

    Under Hyperband Optuna hands samplers a study that shows one bracket's trials and
    refuses ``user_attrs``; the manifold wants every network and the study's attributes.
    """
    if type(study).__name__ == "_BracketStudy":
        return object.__getattribute__(study, "_study")
    return study


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage object a study reads and writes (``Study._storage``)."""
    return study._storage


def trial_id(trial: FrozenTrial) -> int:
    """The storage-wide id of a trial (``FrozenTrial._trial_id``); ``number`` is per study."""
    return trial._trial_id


def set_trial_user_attr(study: optuna.Study, trial: FrozenTrial, key: str, value: Any) -> None:
    """Set a user attribute on a trial that is still running, given its ``FrozenTrial``.

    What a sampler needs in ``sample_independent`` / ``after_trial``, where Optuna
    hands it a frozen copy rather than the live ``optuna.Trial``.
    """
    storage_of(study).set_trial_user_attr(trial_id(trial), key, value)


def distribution_contains(distribution: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` (external representation) is a valid value of ``distribution``.

    Optuna's own test (``BaseDistribution._contains``): inside the bounds, on the step
    grid (to 1e-8 for floats), one of the choices. False for a value of the wrong type.
    """
    try:
        return bool(distribution._contains(distribution.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _unwrap(storage: BaseStorage) -> BaseStorage:
    """The storage under Optuna's caching wrapper (``_CachedStorage._backend``)."""
    return getattr(storage, "_backend", storage) if type(storage).__name__ == "_CachedStorage" else storage


def is_in_memory(study: optuna.Study) -> bool:
    """Whether the study lives only in this process (``InMemoryStorage``)."""
    return isinstance(_unwrap(storage_of(study)), optuna.storages.InMemoryStorage)


def storage_key(study: optuna.Study) -> int:
    """An identity of the study's storage object, stable for the life of the process."""
    return id(_unwrap(storage_of(study)))


def storage_file(study: optuna.Study) -> str | None:
    """The file behind a study's storage: the SQLite database or the journal file, else None.

    SQLite: ``RDBStorage.url`` (public) under the private cache wrapper; a journal file:
    ``JournalStorage._backend._file_path`` (``JournalFileBackend``). Server databases,
    in-memory studies and other journal backends have no file: None.
    """
    inner = _unwrap(storage_of(study))
    url = getattr(inner, "url", None)
    if isinstance(url, str) and url.startswith(_SQLITE):
        return url[len(_SQLITE) :]
    if isinstance(inner, optuna.storages.JournalStorage):
        return getattr(inner._backend, "_file_path", None)
    return None
