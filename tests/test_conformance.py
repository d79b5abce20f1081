"""Optuna's sampler contract, checked on ManifoldSampler once the model is in use.

In the spirit of Optuna's own sampler checks (``optuna.testing.pytest_samplers``, which
OptunaHub sampler packages run): values inside bounds and on the step grid with plain
Python types, single-value distributions, ranges that change between trials,
conditional parameters, NaN objectives, ``reseed_rng``, ``PartialFixedSampler``,
``n_jobs > 1`` and multi-objective refusal. Unlike those checks, every study here runs
past the start-up trials, so the values come from the sampler's proposals rather than
its random start. Each check runs twice: without records (parameter distances) and with
a tiny real torch network trained and recorded per trial (network distances).
"""

import math
import warnings

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from manifold_search import ManifoldSampler, Probe, record_network
from manifold_search._attrs import PROPOSAL

optuna.logging.set_verbosity(optuna.logging.ERROR)
torch.set_num_threads(1)
STARTUP = 3

_X = torch.randn(96, 4, generator=torch.Generator().manual_seed(0))
_Y = ((_X[:, 0] > 0).long() + (_X[:, 1] > 0).long())
PROBE = Probe(_X[:32], _Y[:32].numpy())

FLOATS = [
    FloatDistribution(-1.0, 1.0),
    FloatDistribution(0.0, 1.0),
    FloatDistribution(-1.0, 0.0),
    FloatDistribution(1e-7, 1.0, log=True),
    FloatDistribution(-10, 10, step=0.1),
    FloatDistribution(-10.2, 10.2, step=0.1),
]
INTS = [
    IntDistribution(-10, 10),
    IntDistribution(0, 10),
    IntDistribution(-10, 0),
    IntDistribution(-10, 10, step=2),
    IntDistribution(0, 10, step=2),
    IntDistribution(-10, 0, step=2),
    IntDistribution(1, 100, log=True),
]
CATEGORICALS = [
    CategoricalDistribution((1, 2, 3)),
    CategoricalDistribution(("a", "b", "c")),
    CategoricalDistribution((1, "a")),
    CategoricalDistribution((True, False, None)),
]
SPACE = {f"p{i}": d for i, d in enumerate(FLOATS + INTS + CATEGORICALS)}


def _record(trial):
    """Train a tiny network for a few steps (seeded by the trial) and record it."""
    torch.manual_seed(trial.number)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(10):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(_X), _Y).backward()
        optimizer.step()
    record_network(trial, model, PROBE)


@pytest.fixture(params=["params", "records"])
def records(request):
    return request.param == "records"


def _objective(function, records):
    def objective(trial):
        value = function(trial)
        if records:
            _record(trial)
        return value

    return objective


def _study(seed=0, **kwargs):
    return optuna.create_study(sampler=ManifoldSampler(seed=seed, n_startup_trials=STARTUP), **kwargs)


def _proposed(study):
    """Trials whose parameters came from a proposal (not the random start)."""
    return [t for t in study.trials if PROPOSAL in t.user_attrs]


def _numeric(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _suggest(trial, name, dist):
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    suggest = trial.suggest_float if isinstance(dist, FloatDistribution) else trial.suggest_int
    return suggest(name, dist.low, dist.high, step=dist.step, log=dist.log)


def _suggest_all(trial):
    return sum(_numeric(_suggest(trial, name, dist)) for name, dist in SPACE.items())


def test_values_are_valid_plain_python_and_proposed(records):
    study = _study()
    study.optimize(_objective(_suggest_all, records), n_trials=STARTUP)
    # from here on every value must come from the proposal: the sampler's fallback to
    # random sampling (taken for a proposed value outside its distribution) is not called
    fallback = []
    random_sampler = study.sampler._random
    original = random_sampler.sample_independent
    random_sampler.sample_independent = lambda *args: fallback.append(args[2]) or original(*args)
    study.optimize(_objective(_suggest_all, records), n_trials=6)
    assert fallback == []
    proposed = _proposed(study)
    assert len(proposed) == 6
    assert {p.user_attrs[PROPOSAL]["distance"] for p in proposed} == {"network" if records else "params"}
    # the default surrogate="auto": ARD without records, the uniform GP with them
    assert {p.user_attrs[PROPOSAL]["surrogate"] for p in proposed} == {"uniform" if records else "ard"}
    for trial in study.trials:
        for name, dist in SPACE.items():
            value = trial.params[name]
            if isinstance(dist, CategoricalDistribution):
                assert any(value is c or (value == c and type(value) is type(c)) for c in dist.choices)
                continue
            assert type(value) is (float if isinstance(dist, FloatDistribution) else int)
            assert dist.low <= value <= dist.high
            if dist.step is not None:
                k = (value - dist.low) / dist.step
                assert abs(k - round(k)) < 1e-8


def test_single_value_distributions(records):
    fixed = {
        "a": CategoricalDistribution([1]),
        "b": IntDistribution(1, 1),
        "c": IntDistribution(1, 1, log=True),
        "d": FloatDistribution(1.0, 1.0),
        "e": FloatDistribution(1.0, 1.0, log=True),
        "f": FloatDistribution(1.0, 1.0, step=1.0),
    }
    study = _study()

    def objective(trial):
        assert all(_suggest(trial, name, dist) == 1 for name, dist in fixed.items())
        return trial.suggest_float("x", 0, 1)

    study.optimize(_objective(objective, records), n_trials=STARTUP + 3)
    assert len(_proposed(study)) == 3
    assert all(t.params[name] == 1 for t in study.trials for name in fixed)


@pytest.mark.parametrize("low, high", [(0, 5), (0, 20), (20, 30)])
def test_dynamic_range(records, low, high):
    def objective(trial, low, high):
        return trial.suggest_float("x", low, high) + trial.suggest_int("y", low, high)

    study = _study()
    study.optimize(_objective(lambda t: objective(t, 0, 10), records), n_trials=STARTUP + 3)
    study.optimize(_objective(lambda t: objective(t, low, high), records), n_trials=4)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for trial in study.trials[STARTUP + 3 :]:
        assert low <= trial.params["x"] <= high and low <= trial.params["y"] <= high
    assert len(_proposed(study)) >= 3 + 4 * (low < 10)  # a new range still gets proposals


def test_conditional_parameters(records):
    def objective(trial):
        if trial.suggest_categorical("x", [True, False]):
            return trial.suggest_float("y", 0, 1)
        return trial.suggest_int("z", 0, 4) / 4

    study = _study()
    study.optimize(_objective(objective, records), n_trials=STARTUP + 6)
    assert len(_proposed(study)) == 6
    for trial in study.trials:
        assert set(trial.params) == ({"x", "y"} if trial.params["x"] else {"x", "z"})


def test_conditional_sample_independent_after_added_trials():
    """Optuna's case #2734: a parameter named after another parameter's value."""
    study = optuna.create_study(sampler=ManifoldSampler(seed=0, n_startup_trials=2))
    category = CategoricalDistribution(["x", "y"])
    dependent = CategoricalDistribution(["a", "b"])
    for params in ({"category": "x", "x": "a"}, {"category": "y", "y": "b"}):
        study.add_trial(optuna.create_trial(
            params=params, distributions={"category": category, params["category"]: dependent},
            value=0.1))  # fmt: skip
    trial = study.ask()
    name = trial.suggest_categorical("category", ["x", "y"])
    assert trial.suggest_categorical(name, ["a", "b"]) in ("a", "b")
    assert PROPOSAL in study.get_trials(deepcopy=False)[-1].user_attrs


def test_nan_objective(records):
    study = _study()

    def objective(trial, base):
        return trial.suggest_float("x", 0.1, 0.2) + base

    for base in range(10, 1, -1):
        study.optimize(_objective(lambda t, b=base: objective(t, b), records), n_trials=1, catch=())
    assert int(study.best_value) == 2
    study.optimize(_objective(lambda t: objective(t, float("nan")), records), n_trials=1, catch=())
    assert study.trials[-1].state == TrialState.FAIL and int(study.best_value) == 2
    study.optimize(_objective(lambda t: objective(t, 1), records), n_trials=1, catch=())
    assert int(study.best_value) == 1
    assert PROPOSAL in study.trials[-1].user_attrs  # the failed trial did not stop the model


def test_partial_fixed_sampling(records):
    def objective(trial):
        return trial.suggest_float("x", -1, 1) + trial.suggest_int("y", -1, 1) + trial.suggest_float("z", -1, 1)

    study = _study()
    study.optimize(_objective(objective, records), n_trials=STARTUP + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.sampler = optuna.samplers.PartialFixedSampler({"y": 0}, study.sampler)
    study.optimize(_objective(objective, records), n_trials=2)
    assert [t.params["y"] for t in study.trials[-2:]] == [0, 0]
    assert all(PROPOSAL in t.user_attrs for t in study.trials[-2:])


def test_reseed_rng_changes_the_random_start_only():
    def first_values(reseed):
        sampler = ManifoldSampler(seed=7, n_startup_trials=STARTUP)
        if reseed:
            sampler.reseed_rng()
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=STARTUP + 2)
        return [t.params["x"] for t in study.trials]

    plain, again, reseeded = first_values(False), first_values(False), first_values(True)
    assert plain == again
    assert reseeded[:STARTUP] != plain[:STARTUP]


def test_parallel_threads(records):
    study = _study()
    study.optimize(_objective(_suggest_all, records), n_trials=STARTUP + 7, n_jobs=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * (STARTUP + 7)
    assert len(_proposed(study)) >= 5
    keys = {tuple(sorted(t.params.items(), key=str)) for t in study.trials}
    assert len(keys) == len(study.trials)
    assert study.sampler._plans == {}


def test_multi_objective_is_refused():
    study = optuna.create_study(directions=["minimize", "maximize"],
                                sampler=ManifoldSampler(seed=0))  # fmt: skip
    study.ask()
    trial = study.get_trials(deepcopy=False)[-1]
    space = study.sampler.infer_relative_search_space(study, trial)
    with pytest.raises(ValueError, match="single-objective"):
        study.sampler.sample_relative(study, trial, space)
    with pytest.raises(ValueError, match="single-objective"):
        study.sampler.sample_independent(study, trial, "x", FloatDistribution(0, 1))


def test_predictions_are_finite(records):
    study = _study(direction="maximize")
    study.optimize(_objective(lambda t: math.sin(6 * t.suggest_float("x", 0, 1)), records),
                   n_trials=STARTUP + 4)  # fmt: skip
    predicted = [t.user_attrs[PROPOSAL]["predicted_value"] for t in _proposed(study)]
    assert len(predicted) == 4 and np.all(np.isfinite(predicted))
