"""ManifoldSampler in real studies: drop-in use, records, fallbacks, processes, determinism."""

import logging
import subprocess
import sys

import optuna
import pytest

from manifold_search import ManifoldSampler
from manifold_search._attrs import PLACEMENT, PROPOSAL
from search_spaces import get_space

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def space():
    return get_space("digits", epochs=1, probe_size=64)


def _run(space, n_trials=9, seed=0, direction="maximize", storage=None):
    sampler = ManifoldSampler(seed=seed, n_startup_trials=4)
    study = optuna.create_study(direction=direction, sampler=sampler, storage=storage,
                                pruner=optuna.pruners.NopPruner())
    objective = space.objective if direction == "maximize" else (lambda t: 1 - space.objective(t))
    study.optimize(objective, n_trials=n_trials)
    return study


def test_drop_in_with_recorded_networks(space):
    study = _run(space)
    trials = study.trials
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
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


def test_minimize_is_supported(space):
    study = _run(space, n_trials=7, direction="minimize")
    assert study.best_value <= min(t.value for t in study.trials)
    assert any(PROPOSAL in t.user_attrs for t in study.trials[4:])


def test_same_seed_same_proposals(space):
    first = [t.params for t in _run(space, n_trials=7, seed=3).trials]
    second = [t.params for t in _run(space, n_trials=7, seed=3).trials]
    assert first == second


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
    assert study.best_value < 1.0
    assert study.trials[-1].user_attrs[PROPOSAL]["distance"] == "params"


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
    states = {t.state for t in study.trials}
    assert optuna.trial.TrialState.FAIL in states and optuna.trial.TrialState.PRUNED in states
    assert study.best_value > 0.5


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
    complete = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    assert len(complete) == 8
    assert any(PROPOSAL in t.user_attrs for t in complete)


def test_finished_trials_carry_manifold_attributes(space):
    study = _run(space, n_trials=6)
    info = study.trials[-1].user_attrs[PLACEMENT]
    assert {"class_separation", "spectral_entropy", "h1_total_persistence"} <= set(info["features"])
    assert len(info["coordinates"]) == 2 and 0.0 <= info["region_score"] <= 1.0
    import json

    json.dumps(info)  # shown by optuna-dashboard: must be JSON


def test_threads_share_one_sampler():
    sampler = ManifoldSampler(seed=0, n_startup_trials=4)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", -2, 2) - 0.5) ** 2, n_trials=16, n_jobs=2)
    assert len(study.get_trials(states=[optuna.trial.TrialState.COMPLETE])) == 16
    assert len({t.params["x"] for t in study.trials}) == 16


def test_nan_intermediate_values_are_ignored():
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number % 4 == 3:
            trial.report(float("nan"), 0)
            raise optuna.TrialPruned()
        return x

    study = optuna.create_study(direction="maximize", sampler=ManifoldSampler(seed=2, n_startup_trials=3))
    study.optimize(objective, n_trials=12)
    assert study.best_value > 0.5
