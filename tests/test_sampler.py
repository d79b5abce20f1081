"""ManifoldSampler in real studies: drop-in use, records, fallbacks, processes, determinism."""

import json
import logging
import math
import subprocess
import sys

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from manifold_search import ManifoldSampler
from manifold_search._attrs import PLACEMENT, PROPOSAL
from manifold_search._history import gather
from search_spaces import get_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def space():
    return get_space("digits", epochs=1, probe_size=64)


def _run(space, n_trials=9, seed=0, direction="maximize", storage=None):
    sampler = ManifoldSampler(seed=seed, n_startup_trials=4)
    study = optuna.create_study(direction=direction, sampler=sampler, storage=storage,
                                pruner=optuna.pruners.NopPruner())
    objective = space.objective if direction == "maximize" else (lambda t: -space.objective(t))
    study.optimize(objective, n_trials=n_trials)
    return study


def test_drop_in_with_recorded_networks(space):
    study = _run(space)
    trials = study.trials
    assert all(t.state == TrialState.COMPLETE for t in trials)
    proposed = [t for t in trials[4:] if PROPOSAL in t.user_attrs]
    assert proposed, "no trial was proposed from the manifold"
    info = proposed[-1].user_attrs[PROPOSAL]
    assert info["distance"] == "network"
    assert set(info["metric_weights"]) >= {"family", "lr", "optimizer"}
    # conditional parameters stay consistent with the family
    for t in trials:
        family = t.params["family"]
        other = "cnn_" if family == "mlp" else "mlp_"
        assert not any(name.startswith(other) for name in t.params)
    # no configuration is proposed twice
    keys = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(keys)) == len(keys)


def test_same_seed_same_proposals_in_either_direction(space):
    """Maximising f and minimising -f with the same seed must propose the same trials."""
    first = _run(space, n_trials=7, seed=3)
    second = _run(space, n_trials=7, seed=3, direction="minimize")
    assert [t.params for t in first.trials] == [t.params for t in second.trials]
    up = [t.user_attrs[PROPOSAL] for t in first.trials[4:]]
    down = [t.user_attrs[PROPOSAL] for t in second.trials[4:]]
    assert len(up) == 3 and all(u["distance"] == "network" for u in up)
    assert [u["predicted_value"] for u in up] == [-d["predicted_value"] for d in down]


def test_objective_without_records_falls_back_and_says_so_once(caplog):
    def objective(trial):
        x = trial.suggest_float("x", -5, 5)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        return (x - 1) ** 2 + (0 if kind == "a" else 2)

    with caplog.at_level(logging.WARNING, logger="manifold_search.sampler"):
        study = optuna.create_study(sampler=ManifoldSampler(seed=0, n_startup_trials=5))
        study.optimize(objective, n_trials=25)
    warnings = [r for r in caplog.records if "parameter distances alone" in r.message]
    assert len(warnings) == 1
    proposals = [t.user_attrs.get(PROPOSAL) for t in study.trials[5:]]
    assert all(p is not None and p["distance"] == "params" for p in proposals)


def test_failed_and_pruned_trials_do_not_break_it():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 5 == 1:
            raise ValueError("boom")
        trial.report(x, 0)
        if trial.number % 5 == 2:
            raise optuna.TrialPruned()
        return x

    study = optuna.create_study(direction="maximize", sampler=ManifoldSampler(seed=1, n_startup_trials=3))
    study.optimize(objective, n_trials=15, catch=(ValueError,))
    states = [t.state for t in study.trials]
    assert states.count(TrialState.FAIL) == 3 and states.count(TrialState.PRUNED) == 3
    # a pruned trial counts with its last report, a failed one not at all
    history = gather(study, 3)
    assert [t.number for t in history.done] == [t.number for t in study.trials if t.state != TrialState.FAIL]
    pruned = [v for t, v in zip(history.done, history.values, strict=True) if t.state == TrialState.PRUNED]
    assert pruned == [t.params["x"] for t in study.trials if t.state == TrialState.PRUNED]
    # and the model was used for every trial after the start-up (FAIL and PRUNED do not count)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert all(PROPOSAL in t.user_attrs for t in complete[3:])


def test_multi_objective_is_refused():
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=ManifoldSampler(seed=0))
    with pytest.raises(ValueError, match="single-objective"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="distance"):
        ManifoldSampler(distance="weights")
    with pytest.raises(ValueError, match="n_startup_trials"):
        ManifoldSampler(n_startup_trials=1)


def test_two_processes_share_a_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    code = f"""
import optuna
from manifold_search import ManifoldSampler
from search_spaces import get_space
optuna.logging.set_verbosity(optuna.logging.WARNING)
space = get_space("digits", epochs=1, probe_size=64)
study = optuna.load_study(study_name="shared", storage="{storage}",
                          sampler=ManifoldSampler(seed=int(__import__("sys").argv[1]), n_startup_trials=3),
                          pruner=optuna.pruners.NopPruner())
study.optimize(space.objective, n_trials=4)
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(i)], stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=storage)
    complete = study.get_trials(states=[TrialState.COMPLETE])
    assert len(complete) == 8
    assert any(PROPOSAL in t.user_attrs for t in complete)


def test_finished_trials_carry_manifold_attributes(space):
    study = _run(space, n_trials=6)
    info = study.trials[-1].user_attrs[PLACEMENT]
    assert {"class_separation", "spectral_entropy", "h1_total_persistence"} <= set(info["features"])
    assert len(info["coordinates"]) == 2 and 0.0 <= info["region_score"] <= 1.0
    json.dumps(info)  # shown by optuna-dashboard: must be JSON


def test_threads_share_one_sampler():
    sampler = ManifoldSampler(seed=0, n_startup_trials=4)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.5) ** 2, n_trials=16, n_jobs=2)
    assert len(study.get_trials(states=[TrialState.COMPLETE])) == 16
    assert sum(PROPOSAL in t.user_attrs for t in study.trials) >= 10
    assert sampler._plans == {}  # every trial's plan was handed back


def test_nan_intermediate_values_are_ignored():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 4 == 3:
            trial.report(float("nan"), 0)
            raise optuna.TrialPruned()
        return x

    study = optuna.create_study(direction="maximize", sampler=ManifoldSampler(seed=2, n_startup_trials=3))
    study.optimize(objective, n_trials=12)
    assert len(gather(study, 3).done) == 9  # the three NaN reports are not observations
    predictions = [t.user_attrs[PROPOSAL]["predicted_value"] for t in study.trials
                   if PROPOSAL in t.user_attrs]  # fmt: skip
    assert len(predictions) >= 6 and all(math.isfinite(p) for p in predictions)


def _shifted_sphere(trial):
    x = [trial.suggest_float(name, 0, 1) for name in "xyz"]
    return sum((a - c) ** 2 for a, c in zip(x, (0.3, 0.7, 0.45), strict=True))


def test_beats_random_search_on_a_smooth_function():
    """Mean best of 30 trials over seeds 0-4 on a smooth 3-D bowl (minimum 0).

    Measured when written: ManifoldSampler 0.00037; RandomSampler over 1,000 seeds, in
    200 groups of 5, never below 0.0153 (mean 0.036). The bound 0.005 leaves the
    sampler 13x slack and random search 3x short of its luckiest group.
    """

    def mean_best(make_sampler):
        best = []
        for seed in range(5):
            study = optuna.create_study(sampler=make_sampler(seed))
            study.optimize(_shifted_sphere, n_trials=30)
            best.append(study.best_value)
        return float(np.mean(best))

    manifold = mean_best(lambda seed: ManifoldSampler(seed=seed, n_startup_trials=10))
    random = mean_best(lambda seed: optuna.samplers.RandomSampler(seed=seed))
    assert manifold < 0.005 < random
    assert manifold < random / 10
