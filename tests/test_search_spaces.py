"""Each ready search space trains real networks inside a real Optuna study (tiny budgets)."""

import numpy as np
import optuna
import pytest
import torch

from manifold_search import load_representation
from manifold_search._attrs import PROBE
from search_spaces import available, get_space

TINY = {
    "mnist1d": {"epochs": 1, "probe_size": 32},
    "digits": {"epochs": 1, "probe_size": 32},
    "images": {"epochs": 1, "probe_size": 16, "dataset": "fakedata", "max_train": 64,
               "val_size": 32, "max_test": 32},
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_space_trains_and_records_in_a_study(name, tmp_path):
    space = get_space(name, **TINY[name])
    study = optuna.create_study(
        direction="maximize",
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        sampler=optuna.samplers.RandomSampler(seed=3),
        pruner=optuna.pruners.NopPruner(),
    )
    study.optimize(space.objective, n_trials=3)
    probe = space.probe()
    assert study.user_attrs[PROBE] == probe.fingerprint
    families = set()
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert 0.0 <= trial.value <= 1.0
        assert 0.0 <= trial.user_attrs["test_accuracy"] <= 1.0
        assert trial.user_attrs["n_params"] > 0
        assert trial.intermediate_values  # reported per epoch, so pruners work
        rep = load_representation(study, trial)
        assert rep.shape[0] == len(probe) and np.isfinite(rep).all()
        families.add(trial.params["family"])
    assert families  # at least one family trained


def test_all_bundled_spaces_are_tested():
    assert sorted(available()) == sorted(TINY)


def test_probe_is_fixed_and_stratified():
    a, b = get_space("mnist1d", probe_size=100).probe(), get_space("mnist1d", probe_size=100).probe()
    assert a.fingerprint == b.fingerprint and len(a) == 100
    assert set(np.bincount(a.labels)) <= {9, 10, 11}
    assert get_space("mnist1d", probe_size=100, seed=1).probe().fingerprint != a.fingerprint


def _train_once(space, config):
    model = space.seeded_build(config)
    space.train_and_evaluate(model, config)
    return model.state_dict()


def test_same_seed_same_configuration_and_weights():
    space = get_space("mnist1d", epochs=1)
    configs = []
    for _ in range(2):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=11)).ask()
        configs.append(space.suggest(trial))
    assert configs[0] == configs[1]
    first, second = _train_once(space, configs[0]), _train_once(space, configs[0])
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_conditional_parameters_follow_the_family():
    space = get_space("mnist1d", epochs=1)
    for family, expected in [("mlp", "mlp_width"), ("cnn", "cnn_kernel"), ("gru", "gru_hidden")]:
        trial = optuna.trial.FixedTrial({
            "family": family, "mlp_depth": 1, "mlp_width": 16, "mlp_norm": "none",
            "cnn_depth": 1, "cnn_channels": 4, "cnn_kernel": 3, "cnn_norm": "none",
            "gru_hidden": 8, "gru_layers": 1, "activation": "relu", "dropout": 0.0,
            "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 128,
            "label_smoothing": 0.0,
        })
        space.suggest(trial)
        assert expected in trial.params
        assert all(not p.startswith(("mlp_", "cnn_", "gru_")) or p.startswith(family) for p in trial.params)


def test_pruner_stops_a_trial():
    space = get_space("digits", epochs=3, record=False)
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=1.01))
    study.optimize(space.objective, n_trials=1)
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED


def test_bad_names_and_missing_data_are_clear(tmp_path):
    with pytest.raises(ValueError, match="unknown search space 'nope'"):
        get_space("nope")
    with pytest.raises(ValueError, match="unknown image data set"):
        get_space("images", dataset="imagenet")
    space = get_space("images", dataset="mnist", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="download=True"):
        space.load_data()
    with pytest.raises(ValueError, match="epochs"):
        get_space("digits", epochs=0)


def test_space_by_import_path():
    space = get_space("search_spaces.digits:DigitsSpace", epochs=2)
    assert space.name == "digits" and space.epochs == 2
