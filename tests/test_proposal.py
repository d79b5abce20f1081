"""Region scores, anchors and the candidate generator's donor logic on a conditional space."""

import json

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from manifold_search import ManifoldSampler
from manifold_search._history import gather
from manifold_search._optuna_compat import distribution_contains
from manifold_search.proposal import (
    CandidateGenerator,
    Proposal,
    choose_anchors,
    config_key,
    region_scores,
)

# a define-by-run space: the family decides which parameters exist
DISTRIBUTIONS = {
    "family": CategoricalDistribution(["mlp", "cnn"]),
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "mlp_width": IntDistribution(16, 256, log=True),
    "mlp_depth": IntDistribution(1, 4),
    "cnn_channels": CategoricalDistribution([8, 16, 32, 64]),
    "cnn_kernel": IntDistribution(3, 7, step=2),
}
CONFIGS = [
    {"family": "mlp", "lr": 0.01, "mlp_width": 64, "mlp_depth": 2},
    {"family": "mlp", "lr": 0.003, "mlp_width": 128, "mlp_depth": 3},
    {"family": "cnn", "lr": 0.02, "cnn_channels": 16, "cnn_kernel": 5},
    {"family": "cnn", "lr": 0.001, "cnn_channels": 64, "cnn_kernel": 3},
]
MLP_KEYS = {"family", "lr", "mlp_width", "mlp_depth"}
CNN_KEYS = {"family", "lr", "cnn_channels", "cnn_kernel"}


def _generator(seed=0, configs=CONFIGS):
    return CandidateGenerator(DISTRIBUTIONS, configs, np.random.default_rng(seed))


def test_region_scores_favour_a_dense_top_region():
    # trials 0-2 sit together and are good, trial 3 is the best but alone, 4-5 are bad
    points = np.array([[0.0], [0.1], [0.2], [5.0], [-9.0], [-12.0]])
    distances = np.abs(points - points.T)
    values = np.array([0.85, 0.8, 0.84, 0.9, 0.1, 0.2])
    scores, top = region_scores(distances, values, top_fraction=0.5)
    assert list(np.flatnonzero(top)) == [0, 2, 3]
    assert min(scores[:3]) > scores[3] > max(scores[4:])
    anchors = choose_anchors(scores, top, values, n=3)
    # the best trial is isolated: the first anchor is the best one of the dense region
    assert list(anchors) == [0, 3, 2]


def test_a_structural_switch_borrows_the_donors_active_set_and_values():
    generator = _generator()
    anchor = CONFIGS[0]
    switched = 0
    for _ in range(300):
        child = generator.mutate(anchor, 1, {})
        if child["family"] == "cnn":
            switched += 1
            assert set(child) == CNN_KEYS  # the donor's active set, nothing of the MLP left
            # the family-specific values come from the donor (the first CNN trial), the
            # shared learning rate stays the anchor's
            assert (child["cnn_channels"], child["cnn_kernel"]) == (16, 5)
            assert child["lr"] == anchor["lr"]
        else:
            assert set(child) == MLP_KEYS
            # at most one parameter moved (a numeric draw can land on its old value; the
            # sampler then drops the candidate as already tried)
            assert sum(child[k] != anchor[k] for k in MLP_KEYS) <= 1
    assert switched > 30


def test_a_switch_takes_the_donor_that_shares_most_parameters():
    base = {"family": "cnn", "lr": 0.02, "dropout": 0.1, "cnn_channels": 16, "cnn_kernel": 5}
    configs = [
        base,
        {"family": "mlp", "lr": 0.01, "mlp_width": 64},  # shares family and lr
        {"family": "mlp", "lr": 0.01, "dropout": 0.2, "mlp_width": 64},  # and dropout
        {"family": "cnn", "lr": 0.01, "dropout": 0.3, "cnn_channels": 8, "cnn_kernel": 3},
    ]
    generator = _generator(configs=configs)
    assert set(generator._donor_keys("family", "mlp", base)) == {"family", "lr", "dropout", "mlp_width"}
    assert set(generator._donor_keys("family", "gru", base)) == set(base)  # no donor: keep
    assert set(generator._donor_keys("cnn_kernel", 3, base)) == set(base)  # not structural


def test_every_candidate_is_valid_and_follows_a_seen_structure():
    generator = _generator(seed=3)
    spread = generator.spread(CONFIGS[:2])
    candidates = generator.generate(CONFIGS[:2], CONFIGS[:2], n_random=200, per_anchor=50)
    assert len(candidates) == 300
    for c in candidates:
        assert set(c) in (MLP_KEYS, CNN_KEYS)
        assert all(distribution_contains(DISTRIBUTIONS[k], v) for k, v in c.items())
    assert 0.05 <= min(spread.values()) and max(spread.values()) <= 0.3
    assert "family" not in spread  # a nominal choice has no spread


def test_candidates_never_repeat_a_tried_or_running_configuration():
    """A small finite space nearly exhausted: what remains must be untried."""

    def objective(trial):
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_int("x", 0, 4) if kind == "a" else trial.suggest_int("y", 0, 2)
        return x + (kind == "b")

    sampler = ManifoldSampler(seed=0, n_startup_trials=3)
    study = optuna.create_study(sampler=sampler)
    for params in ([{"kind": "a", "x": i} for i in range(5)] + [{"kind": "b", "y": 0}]):
        study.enqueue_trial(params)
    study.optimize(objective, n_trials=6)
    study.enqueue_trial({"kind": "b", "y": 1})
    running = study.ask()  # another worker's trial, still running
    running.suggest_categorical("kind", ["a", "b"])
    running.suggest_int("y", 0, 2)
    history = gather(study, 3)
    assert len(history.running) == 1
    geometry = sampler._measure_trials(history, None, None)
    regions = sampler._score_regions(history, geometry)
    candidates = sampler._generate_candidates(history, regions, np.random.default_rng(0))
    assert [config_key(c) for c in candidates] == [config_key({"kind": "b", "y": 2})]


def test_config_key_and_the_proposal_record():
    assert config_key({"b": 0.1 + 0.2, "a": 1}) == config_key({"a": 1, "b": 0.3})
    assert config_key({"a": 1.0}) != config_key({"a": 1.001})
    proposal = Proposal({"x": 1.0}, [3, 1], 0.5, 0.9, 0.1, {"x": 1.0}, "network")
    attr = proposal.as_attr()
    assert "params" not in attr and attr["anchors"] == [3, 1]
    json.dumps(attr)
