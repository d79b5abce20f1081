"""Each worker's sampler seed: the study seed and the number of the worker's first trial.

Why the first trial's number: the storage hands out trial numbers atomically, so
no two workers ever create the same first trial: not two workers of one ``run``,
not two ``run`` commands started at the same moment on one study, not workers
on different machines sharing a database. A count read before the first trial
(trials already stored, a worker index, a counter in a study attribute) is not
unique across processes: two processes that read it at the same moment share a
seed and repeat each other's random start-up configurations.

The rule: with study seed ``S`` and first trial number ``n``, the seed is ``S``
itself for ``n == 0`` (a fresh study run by one worker uses exactly the seed
given) and ``SeedSequence([S, n])`` (31 bits) otherwise; a resumed single run
starts at ``n`` = trials stored, so the same command resumes with the same seed.
The seed a trial ran under is in its worker record (``manifold_search:worker``,
key ``seed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState


def worker_seed(seed: int, first_trial: int) -> int:
    """The sampler seed of the worker whose first trial is number ``first_trial``."""
    if first_trial == 0:
        return seed
    return int(np.random.SeedSequence([seed, first_trial]).generate_state(1)[0] % 2**31)


class FirstTrialSeeded(BaseSampler):
    """A sampler built at the worker's first trial, seeded by :func:`worker_seed`.

    Optuna calls ``before_trial`` first in every trial, once the trial (and so its
    number) exists; the real sampler is built there and every call goes to it.
    """

    def __init__(self, build: Callable[[int], BaseSampler], seed: int) -> None:
        self._build = build
        self._study_seed = seed
        self._sampler: BaseSampler | None = None
        self.worker_seed: int | None = None  # set at the first trial

    def _inner(self, trial: FrozenTrial) -> BaseSampler:
        if self._sampler is None:
            self.worker_seed = worker_seed(self._study_seed, trial.number)
            self._sampler = self._build(self.worker_seed)
        return self._sampler

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._inner(trial).before_trial(study, trial)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return self._inner(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:  # fmt: skip
        return self._inner(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:  # fmt: skip
        return self._inner(trial).sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:  # fmt: skip
        self._inner(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        if self._sampler is not None:
            self._sampler.reseed_rng()

    def __getattr__(self, name: str) -> Any:
        """Anything else (``manifold``, options) from the real sampler, once built."""
        sampler = self.__dict__.get("_sampler")
        if sampler is None:
            raise AttributeError(name)
        return getattr(sampler, name)


__all__ = ["FirstTrialSeeded", "worker_seed"]
