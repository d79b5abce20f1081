"""Concurrent proposals on one study never pick the same configuration."""

from __future__ import annotations

import optuna

from manifold_search import ManifoldSampler
from manifold_search import sampler as sampler_module
from manifold_search._attrs import CLAIM


def _objective(trial: optuna.Trial) -> float:
    # a discrete space, as architecture searches are: candidates meet on the same grid points
    x = trial.suggest_int("x", 0, 9)
    y = trial.suggest_int("y", 0, 9)
    return -(x - 7) ** 2 - (y - 2) ** 2


def _two_racing_proposals(tmp_path, **kwargs) -> tuple[dict, dict, optuna.Study]:
    storage = f"sqlite:///{tmp_path / 'race.db'}"
    study = optuna.create_study(storage=storage, study_name="race", direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(_objective, n_trials=12)
    plans = []
    for sampler in (ManifoldSampler(seed=0, n_startup_trials=5, **kwargs),
                    ManifoldSampler(seed=0, n_startup_trials=5, **kwargs)):  # two workers, same history
        worker_view = optuna.load_study(study_name="race", storage=storage, sampler=sampler)
        trial = worker_view.ask()
        trial.suggest_int("x", 0, 9)  # the first request decides the whole configuration
        plans.append(sampler._plans[("race", trial.number)])
    return plans[0], plans[1], study


def test_a_second_worker_does_not_repeat_a_running_claim(tmp_path):
    first, second, study = _two_racing_proposals(tmp_path)
    assert first != second
    running = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
    assert [t.user_attrs[CLAIM] for t in running] == [first, second]


def test_without_claims_the_racing_workers_collide(tmp_path, monkeypatch):
    # the uniform surrogate: the first worker's half-written trial (x only) as a lie does
    # not move its choice, so only the claim parts them (the ARD surrogate happens to part)
    monkeypatch.setattr(sampler_module, "taken_by_others", lambda study, trial: set())
    first, second, _ = _two_racing_proposals(tmp_path, surrogate="uniform")
    assert first == second


def test_a_worker_that_chose_before_the_other_wrote_chooses_again(tmp_path, monkeypatch):
    first, _, _ = _two_racing_proposals(tmp_path)  # trial 12 claims `first`
    real = sampler_module.taken_by_others
    reads = []

    def stale_first_read(study, trial):  # the first read happened before trial 12 wrote
        reads.append(trial.number)
        return set() if len(reads) == 1 else real(study, trial)

    monkeypatch.setattr(sampler_module, "taken_by_others", stale_first_read)
    sampler = ManifoldSampler(seed=0, n_startup_trials=5)
    view = optuna.load_study(study_name="race", storage=f"sqlite:///{tmp_path / 'race.db'}",
                             sampler=sampler)
    trial = view.ask()
    trial.suggest_int("x", 0, 9)
    third = sampler._plans[("race", trial.number)]
    assert len(reads) >= 2 and third != first
