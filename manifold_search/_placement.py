"""After a trial: its network's place on the manifold, stored as a user attribute.

Why a module of its own: it is what the sampler shows (optuna-dashboard reads the
``manifold_search:placement`` attribute), not how it proposes; keeping it apart
keeps the proposal steps in :mod:`manifold_search.sampler` readable.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from manifold_search import _optuna_compat
from manifold_search._attrs import PLACEMENT
from manifold_search._history import direction_sign
from manifold_search.manifold import NetworkManifold
from manifold_search.proposal import region_scores

_logger = logging.getLogger("manifold_search.sampler")


def annotate_placement(manifold: NetworkManifold, study: Study, trial: FrozenTrial, values,
                       artifact_store: Any, seed: int) -> None:  # fmt: skip
    """Place the finished trial's network on ``manifold``; store its features, region
    score and manifold coordinates as user attributes (JSON)."""
    try:
        if not manifold.add_trial(study, trial, artifact_store):
            return
        features = manifold.features(trial.number)
    except (KeyError, ValueError, OSError) as error:
        _logger.warning("trial %d: network not placed on the manifold (%s)", trial.number, error)
        return
    info: dict[str, Any] = {"features": {k: round(float(v), 6) for k, v in features.items()}}
    if len(manifold) >= 3:
        info.update(_placement(manifold, study, trial.number, values[0], seed))
    try:
        _optuna_compat.set_trial_user_attr(study, trial, PLACEMENT, info)
    except Exception as error:
        _logger.debug("could not annotate trial %d: %s", trial.number, error)


def _placement(manifold: NetworkManifold, study: Study, number: int, value: float,
               seed: int) -> dict[str, Any]:  # fmt: skip
    """Region score and PHATE coordinates of network ``number`` among the finished ones."""
    keys = manifold.keys
    sign = direction_sign(study)
    finished = {t.number: t.value for t in study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE,))}  # fmt: skip
    finished[number] = value
    rows = [i for i, k in enumerate(keys) if k in finished]
    y = np.array([sign * finished[keys[i]] for i in rows])
    d = manifold.distances()[np.ix_(rows, rows)]
    scores, _ = region_scores(d, y)
    # PHATE is refitted on every change (about 15 ms for 200 networks)
    coords = manifold.embed(seed=seed)[keys.index(number)]
    return {
        "region_score": round(float(scores[rows.index(keys.index(number))]), 6),
        "coordinates": [round(float(c), 6) for c in coords],
    }
