"""Reading a study's network records so that one bad file never stops a study.

A record (a trial's representation, an ``.npz`` in the artifact store) can go bad
after its trial finished: a full disk truncates it, someone deletes or overwrites
it, the study's database is copied without its artifact folder. The trial's result
is still good, so a broken record costs only that network's place on the manifold:
:func:`read_networks` skips it with one warning per record and process, naming the
trial and the fix. :func:`check_records` verifies every record and, asked to, drops
the broken ones for good. Optuna cannot change a finished trial's attributes, so a
drop is noted on the study (``manifold_search:dropped_records``) and every reader of
records here honours it; the trials' values and states are never touched.

Records are read with ``np.load(allow_pickle=False)`` only; no message suggests
loading a file any other way.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial

from manifold_search._attrs import DROPPED, read_attr
from manifold_search.representations import RecordError, load_network, network_reference

#: What a user runs to drop broken records (the ``check`` command of the CLI).
CHECK_COMMAND = "manifold-search check RUN_DIR --drop"
#: Problems listed in full in one warning; the rest are counted.
_LISTED = 5

_warned: set[tuple[str, int, str]] = set()
_warned_lock = threading.Lock()


class RecordWarning(UserWarning):
    """A trial's network record could not be read and its network was left out."""


def collapse_nonfinite(representation: np.ndarray, key: Hashable) -> np.ndarray:
    """A diverged network (NaN/inf activations) as a collapsed one: all probe points together.

    Such a network computes nothing; placing it where a constant representation
    sits (a uniform diffusion operator) keeps it on the manifold, near the other
    networks that separate nothing, instead of failing the whole study.
    """
    rep = np.asarray(representation, dtype=np.float32)
    if np.all(np.isfinite(rep)):
        return rep
    warnings.warn(
        f"network {key!r} has NaN/inf activations (diverged training); it is placed as a "
        "collapsed network (all probe points together)",
        stacklevel=4,
    )
    return np.zeros((len(rep), 1), dtype=np.float32)


@dataclass
class LoadedNetworks:
    """What :func:`read_networks` found: readable layers, labels, and what it skipped."""

    items: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (trial, n x d float32)
    labels: np.ndarray | None = None
    skipped: dict[int, str] = field(default_factory=dict)  # broken record: trial -> problem
    other_layers: list[int] = field(default_factory=list)  # recorded, but not this layer


def dropped_records(study: optuna.Study) -> dict[int, str]:
    """Records dropped with :func:`check_records`: ``{trial number: problem}``."""
    raw = read_attr(study.user_attrs, DROPPED) or {}
    return {int(number): str(problem) for number, problem in raw.items()}


def read_networks(
    study: optuna.Study,
    trials: Iterable[FrozenTrial],
    layer: str,
    artifact_store: Any | None = None,
) -> LoadedNetworks:
    """Load ``layer`` of every trial in ``trials`` that recorded a network.

    Trials without a record are ignored, dropped records skipped silently, trials that
    recorded other layers skipped with a warning, a diverged network (NaN/inf) placed as
    a collapsed one (:func:`collapse_nonfinite`), and a record that cannot be read is skipped with one :class:`RecordWarning` per record
    and process (it is tried again next time, so restoring the file brings it back).
    """
    out = LoadedNetworks()
    recorded = [(t, ref) for t in trials if (ref := network_reference(t)) is not None]
    if not recorded:
        return out
    dropped = dropped_records(study)
    fresh: list[str] = []  # problems not warned about before in this process
    for trial, reference in recorded:
        if trial.number in dropped:
            continue
        if layer not in reference.get("layers", {layer: None}):
            out.other_layers.append(trial.number)
            continue
        try:
            arrays = load_network(study, trial, artifact_store)
            if layer not in arrays:
                raise RecordError(f"trial {trial.number}: network record holds no layer '{layer}'")
        except RecordError as error:
            out.skipped[trial.number] = str(error)
            if _first_time(study, trial.number, reference):
                fresh.append(str(error))
            continue
        out.items.append((trial.number, collapse_nonfinite(arrays[layer], trial.number)))
        if out.labels is None:
            out.labels = arrays["__labels__"]
    if fresh:
        _warn(fresh)
    if out.other_layers:
        warnings.warn(
            f"trials {out.other_layers} recorded no layer '{layer}' and were left out; build "
            "the manifold with layer= one of their recorded layers",
            stacklevel=3,
        )
    return out


def _first_time(study: optuna.Study, number: int, reference: dict) -> bool:
    """True once per process for each record (study, trial, artifact)."""
    key = (study.study_name, number, str(reference.get("artifact_id")))
    with _warned_lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


def _warn(problems: list[str]) -> None:
    """One warning for the records newly found broken by one read."""
    listed = "; ".join(problems[:_LISTED])
    more = f"; and {len(problems) - _LISTED} more" if len(problems) > _LISTED else ""
    warnings.warn(
        f"{len(problems)} network record(s) cannot be read, so those networks are left off "
        f"the manifold (the trials' results are kept): {listed}{more}. Fix: restore the "
        f"files, or drop the broken records for good with `{CHECK_COMMAND}`",
        RecordWarning,
        stacklevel=3,
    )


def check_records(
    study: optuna.Study, drop: bool = False, artifact_store: Any | None = None
) -> list[tuple[int, str]]:
    """Read every network record of the study; return ``(trial number, problem)`` per broken one.

    With ``drop=True`` the broken records are noted as dropped on the study, so the
    sampler, report and explore leave those networks out without a warning; the
    trials themselves (values, states, parameters) stay as they are. Records dropped
    before are not read or listed again.
    """
    dropped = dropped_records(study)
    problems: list[tuple[int, str]] = []
    for trial in study.get_trials(deepcopy=False):
        if trial.number in dropped or network_reference(trial) is None:
            continue
        try:
            load_network(study, trial, artifact_store)
        except RecordError as error:
            problems.append((trial.number, str(error)))
    if drop and problems:
        merged = {str(number): problem for number, problem in dropped.items()}
        merged.update({str(number): problem for number, problem in problems})
        study.set_user_attr(DROPPED, merged)
    return problems


__all__ = [
    "CHECK_COMMAND",
    "LoadedNetworks",
    "RecordError",
    "RecordWarning",
    "check_records",
    "collapse_nonfinite",
    "dropped_records",
    "read_networks",
]
