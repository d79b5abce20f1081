"""Claims: concurrent workers never propose the same configuration.

Workers sharing a study see each other's running trials only once their objectives
suggest parameters, and two proposals made at the same moment from the same history
pick the same best candidate (the seed barely enters the choice). So a proposal is
first written on its trial (``manifold_search:claim``), then the running trials are
read: when a lower-numbered running trial claims or already holds the same
configuration, this one chooses again without it. Whichever of two racing workers
writes second sees the first's claim, so at most the lower-numbered trial keeps it.
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
    """Configurations claimed or held by running trials numbered below ``trial``."""
    taken = set()
    for other in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if other.number >= trial.number:
            continue
        claimed = other.user_attrs.get(CLAIM)
        if isinstance(claimed, dict):
            taken.add(config_key(claimed))
        if other.params:
            taken.add(config_key(other.params))
    return taken
