"""The discrete MNIST-1D grid behind the NAS table."""

import optuna

from search_spaces.mnist1d_grid import (
    Mnist1DGridSpace,
    all_params,
    grid_key,
    suggest_grid,
    to_config,
)


def test_grid_size_and_uniqueness():
    params = all_params()
    assert len(params) == 1056
    assert len({grid_key(p) for p in params}) == 1056


def test_every_family_builds_from_its_grid_params():
    space = Mnist1DGridSpace(epochs=1)
    seen = set()
    for params in all_params():
        if params["family"] in seen:
            continue
        seen.add(params["family"])
        model = space.build(to_config(params))
        assert sum(p.numel() for p in model.parameters()) > 0
    assert seen == {"mlp", "cnn", "gru"}


def test_suggest_grid_hits_grid_points():
    keys = {grid_key(p) for p in all_params()}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(50):
        trial = study.ask()
        assert grid_key(suggest_grid(trial)) in keys
        study.tell(trial, 0.0)
