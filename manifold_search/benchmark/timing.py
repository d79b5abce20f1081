"""Measure the wall time an Optuna sampler spends per trial.

:class:`TimedSampler` wraps any sampler and adds up, per trial number, the time
spent in every hook Optuna calls on it: ``before_trial``,
``infer_relative_search_space``, ``sample_relative``, ``sample_independent``
(once per parameter) and ``after_trial``. The objective's own time is not
included, so the sum is the sampler's overhead for that trial.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

T = TypeVar("T")


class TimedSampler(BaseSampler):
    """Delegate to ``sampler`` and record the seconds spent per trial number.

    Attributes:
        seconds: ``{trial number: seconds spent inside the wrapped sampler}``.
    """

    def __init__(self, sampler: BaseSampler) -> None:
        self.sampler = sampler
        self.seconds: dict[int, float] = defaultdict(float)

    def _timed(self, number: int, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds[number] += time.perf_counter() - start

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._timed(trial.number, self.sampler.before_trial, study, trial)

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._timed(
            trial.number, self.sampler.infer_relative_search_space, study, trial
        )

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return self._timed(trial.number, self.sampler.sample_relative, study, trial, search_space)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._timed(
            trial.number,
            self.sampler.sample_independent,
            study,
            trial,
            param_name,
            param_distribution,
        )

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._timed(trial.number, self.sampler.after_trial, study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found normally: expose the wrapped
        # sampler's own API (e.g. private helpers other code may look up).
        if name == "sampler":
            raise AttributeError(name)
        return getattr(self.sampler, name)

    def __repr__(self) -> str:
        return f"TimedSampler({self.sampler!r})"
