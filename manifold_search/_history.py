"""What a proposal learns from: a study's finished trials, oriented so that higher is better.

The sampler maximises ``sign * value`` whatever the study's direction; the sign is
taken here, once per proposal, and carried in :class:`History`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from manifold_search._params import ParamEncoder
from manifold_search.proposal import config_key

_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def observed(trial: FrozenTrial) -> float:
    """What a trial tells about its configuration: its value, a pruned trial's last
    intermediate value, else NaN (running trials, pruned before any report, NaN reports)."""
    if trial.state == TrialState.COMPLETE:
        return float(trial.value)
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return float(trial.intermediate_values[max(trial.intermediate_values)])
    return float("nan")


def direction_sign(study: Study) -> float:
    """+1 to maximise, -1 to minimise: the method always maximises ``sign * value``."""
    return 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0


@dataclass(frozen=True)
class History:
    """The finished trials of a study at the time of one proposal."""

    done: list[FrozenTrial]  # finished, with a finite observation (pruned: last report)
    running: list[FrozenTrial]  # other workers' running trials that have parameters
    values: np.ndarray  # sign * observation of ``done``: higher is better
    sign: float
    configs: list[dict[str, Any]]
    encoder: ParamEncoder  # over the union of the distributions seen
    x: np.ndarray  # ``configs`` encoded

    @cached_property
    def seen(self) -> set[tuple]:
        """Keys (``config_key``) of the configurations tried or running: never proposed again."""
        return {config_key(c) for c in self.configs} | {config_key(t.params) for t in self.running}


def gather(study: Study, n_startup_trials: int) -> History | None:
    """The study's history, or None while fewer than ``n_startup_trials`` are finished.

    Finished = complete, or pruned with a reported value, as Optuna's TPESampler counts
    them: under Hyperband most trials are pruned, and counting complete ones alone
    kept the sampler in its random start-up for whole studies (7 of 10 runs of the
    issue-12 benchmark ended with 7-9 complete trials of 40).
    """
    trials = study.get_trials(deepcopy=False, states=_STATES)
    done = [t for t in trials if np.isfinite(observed(t))]
    running = [t for t in trials if t.state == TrialState.RUNNING and t.params]
    if len(done) < n_startup_trials:
        return None
    sign = direction_sign(study)
    distributions: dict[str, BaseDistribution] = {}
    for t in done:
        distributions.update(t.distributions)
    configs = [dict(t.params) for t in done]
    encoder = ParamEncoder(distributions)
    values = np.array([sign * observed(t) for t in done])
    return History(done, running, values, sign, configs, encoder, encoder.encode(configs))
