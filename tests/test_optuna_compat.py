"""The private Optuna names manifold-search relies on, each exercised against the installed Optuna.

If one of these fails after an Optuna upgrade, fix ``manifold_search/_optuna_compat.py``
(the only module that touches Optuna's private API) before anything else.
"""

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from manifold_search import _optuna_compat as compat


def test_storage_and_trial_id_of_a_running_trial(tmp_path):
    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    trial = study.ask()
    frozen = study.get_trials(deepcopy=False)[0]
    assert isinstance(compat.storage_of(study), optuna.storages.BaseStorage)
    assert compat.trial_id(frozen) == trial._trial_id
    compat.set_trial_user_attr(study, frozen, "manifold_search:test", {"a": 1})
    assert study.get_trials()[0].user_attrs["manifold_search:test"] == {"a": 1}


@pytest.mark.parametrize(
    "distribution, inside, outside",
    [
        (FloatDistribution(0.0, 1.0), [0.0, 0.5, 1.0], [-0.1, 1.1, "x", None]),
        (FloatDistribution(1e-5, 1.0, log=True), [1e-5, 0.01], [0.0, 2.0]),
        (FloatDistribution(0.0, 1.0, step=0.25), [0.25, 1.0], [0.3, 1.25]),
        (IntDistribution(1, 9, step=2), [1, 3, 9], [2, 10, 0]),
        (IntDistribution(1, 64, log=True), [1, 17, 64], [0, 65]),
        (CategoricalDistribution(["a", 2, None]), ["a", 2, None], ["b", 3]),
    ],
)
def test_distribution_contains(distribution, inside, outside):
    assert all(compat.distribution_contains(distribution, v) for v in inside)
    assert not any(compat.distribution_contains(distribution, v) for v in outside)


def test_storage_file_of_sqlite_journal_and_memory(tmp_path):
    db = tmp_path / "s.db"
    assert compat.storage_file(optuna.create_study(storage=f"sqlite:///{db}")) == str(db)
    log = tmp_path / "s.log"
    journal = JournalStorage(JournalFileBackend(str(log)))
    assert compat.storage_file(optuna.create_study(storage=journal)) == str(log)
    memory = optuna.create_study()
    assert compat.storage_file(memory) is None and compat.is_in_memory(memory)
    assert not compat.is_in_memory(optuna.create_study(storage=f"sqlite:///{tmp_path / 't.db'}"))
    assert compat.storage_key(memory) == compat.storage_key(memory)


def test_sqlite_storage_is_still_wrapped_the_way_unwrap_expects(tmp_path):
    storage = optuna.storages.get_storage(f"sqlite:///{tmp_path / 's.db'}")
    assert type(storage).__name__ == "_CachedStorage"
    assert isinstance(storage._backend, optuna.storages.RDBStorage)


def test_full_study_behind_hyperband_brackets():
    seen = []

    class Spy(optuna.samplers.RandomSampler):
        def sample_independent(self, study, trial, name, distribution):
            seen.append((type(study).__name__, compat.full_study(study).user_attrs))
            return super().sample_independent(study, trial, name, distribution)

    study = optuna.create_study(sampler=Spy(seed=0), pruner=optuna.pruners.HyperbandPruner())
    study.set_user_attr("k", 1)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert seen and all(kind == "_BracketStudy" and attrs == {"k": 1} for kind, attrs in seen)
