"""Claims: concurrent workers never propose the same configuration.

Workers sharing a study see each other's running trials only once their objectives
suggest parameters, and two proposals made at the same moment from the same history
pick the same best candidate (the seed barely enters the choice). So a proposal
leaves out what other running trials claim or hold, writes its choice on its trial
(``manifold_search:claim``), then reads the running trials again: when another
claims the same configuration (both chose before either wrote), it chooses again,
this time one of the best few at random, so that two racing workers part (each
trial draws from its own random stream); a few rounds at most.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optuna import Study
from optuna.trial import FrozenTrial, TrialState

from manifold_search import _optuna_compat
from manifold_search._attrs import CLAIM
from manifold_search.proposal import config_key


def claim(study: Study, trial: FrozenTrial, params: Mapping[str, Any]) -> bool:
    """Write the claim on ``trial``; False when the storage refused it (then unchecked)."""
    try:
        _optuna_compat.set_trial_user_attr(study, trial, CLAIM, dict(params))
    except Exception:  # a storage hiccup must not stop the proposal
        return False
    return True


def taken_by_others(study: Study, trial: FrozenTrial) -> set[tuple]:
    """Configurations claimed or held by the other running trials."""
    taken = set()
    for other in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if other.number == trial.number:
            continue
        claimed = other.user_attrs.get(CLAIM)
        if isinstance(claimed, dict):
            taken.add(config_key(claimed))
        if other.params:
            taken.add(config_key(other.params))
    return taken
