"""Live-training benchmark problems: ``live:<space>`` trains real networks per trial.

``manifold-search benchmark --problem live:mnist1d`` benchmarks samplers on a search
space from :mod:`search_spaces` (or any ``package.module:object`` implementing the
same interface) by training every configuration for real, instead of looking it up
in a table. Constructor options of the space follow after commas::

    manifold-search benchmark --problem live:mnist1d,epochs=5 --samplers random,tpe,manifold \\
        --seeds 5 --trials 30 --jobs 2

The objective is ``space.objective`` with the space seeded by the run's seed
(``get_space(name, seed=seed, **options)``). Without ``--pruner`` it runs without
intermediate reports, so every trial trains its full budget; with ``--pruner`` it
reports each epoch and the pruner may stop it (the space records the pruned
network first, so the manifold sampler still places it). Data split, probe set, weight
initialisation and shuffling differ between seeds and are the same for every
sampler at one seed, so runs are paired as the harness expects. Each trained
network is recorded on the probe set (the manifold sampler needs it); the test
accuracy of each trial is stored as the harness's test value.

What regret means here. The best achievable validation accuracy of a live search
space is unknown, so there is no oracle. The problem declares ``optimum = 1.0`` (a
perfect classifier): the harness's "regret" is then the best-so-far validation
*error*, and its test regret the test error of the incumbent. Differences between
samplers are exact; the absolute level is an error rate, not a distance from the
best configuration of the space (that would need the best value seen across all
runs, which the harness computes per run and cannot know in advance).

Cost. A run trains ``--trials`` networks; at the mnist1d default budget (20 epochs)
a trial takes about 1-18 s on one core (docs/search_spaces.md). Representations of
a run live in a temporary artifact store (the harness's studies are in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna

from manifold_search._attrs import TEST_VALUE
from manifold_search.benchmark.problems import (
    Problem,
    ProblemError,
    register_problem_family,
)


def parse_live_arg(arg: str) -> tuple[str, dict[str, Any]]:
    """``"mnist1d,epochs=5"`` -> ``("mnist1d", {"epochs": 5})``."""
    from manifold_search.benchmark.samplers import SamplerError, parse_kwargs

    name, _, rest = arg.partition(",")
    name = name.strip()
    if not name:
        raise ProblemError(
            "live problems name a search space: live:mnist1d, live:digits,epochs=3 or "
            "live:package.module:object"
        )
    try:
        options = parse_kwargs(rest)
    except SamplerError as exc:
        raise ProblemError(
            f"bad options {rest!r} of live:{name}; write live:{name},key=value,key=value "
            f"({exc})"
        ) from None
    if "seed" in options:
        raise ProblemError(
            f"live:{arg}: the space seed is the benchmark seed (one per run); drop seed="
        )
    return name, options


class LiveProblem(Problem):
    """Train networks of a search space for real; maximise validation accuracy."""

    direction = "maximize"
    optimum = 1.0
    test_optimum = 1.0
    value_label = "validation accuracy (regret = best-so-far validation error)"
    test_label = "test accuracy of the incumbent (test regret = its test error)"

    def __init__(self, space: str, options: dict[str, Any] | None = None) -> None:
        from manifold_search.study.config import ConfigError, space_section

        self.space_name = space
        self.options = dict(options or {})
        try:  # fail early on names and options, as a study config would
            space_section(space, self.options, path=f"live:{space}")
        except ConfigError as exc:
            raise ProblemError(str(exc).replace("[space] ", "")) from None
        extra = "".join(f",{k}={v}" for k, v in self.options.items())
        self.name = f"live:{space}{extra}"
        self.description = (
            f"trains {space} networks for real per trial "
            "(optimum unknown: regret is measured from accuracy 1.0)"
        )

    supports_pruning = True

    def objective(self, seed: int, prune: bool = False) -> Callable[[optuna.Trial], float]:
        from search_spaces import get_space

        space = get_space(self.space_name, seed=seed, **self.options)

        def objective(trial: optuna.Trial) -> float:
            value = space.objective(trial) if prune else _full_budget_objective(space, trial)
            test = trial.user_attrs.get("test_accuracy")
            if test is not None:
                trial.set_user_attr(TEST_VALUE, float(test))
            return value

        return objective

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "space": self.space_name, "space_options": self.options}


def _full_budget_objective(space: Any, trial: optuna.Trial) -> float:
    """``space.objective`` without intermediate reports, so no pruner stops the trial.

    Used when the benchmark runs without a pruner, so that each trial's cost is its
    full budget whatever pruner a space's own ``objective`` would meet. Spaces built on
    :class:`search_spaces.base.SearchSpace` are trained with ``trial=None`` (the same
    steps as their ``objective``); other spaces run their own ``objective``.
    """
    from search_spaces.base import SearchSpace

    if not isinstance(space, SearchSpace) or type(space).objective is not SearchSpace.objective:
        return space.objective(trial)
    return space.objective(trial, report=False)


def live_problem(arg: str) -> LiveProblem:
    name, options = parse_live_arg(arg)
    return LiveProblem(name, options)


register_problem_family(
    "live",
    live_problem,
    description="live:<space>[,key=value...]: train a search space's networks for real "
    "(regret from accuracy 1.0: the optimum is unknown)",
)
