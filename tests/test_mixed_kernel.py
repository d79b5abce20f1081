"""``ManifoldSampler(kernel="mixed")``: parameter and network distances in one GP kernel."""

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution

from manifold_search import ManifoldSampler
from manifold_search._attrs import PROPOSAL
from manifold_search._mixed_gp import MixedGP, NetworkPositions
from manifold_search._params import ParamEncoder
from manifold_search._surrogate import MetricGP
from manifold_search.representations import record_representations

optuna.logging.set_verbosity(optuna.logging.WARNING)

ENC = ParamEncoder({"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1)})
W = np.ones(len(ENC.columns))


def _pairwise(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    return np.sqrt(((p[:, None, :] - q[None, :, :]) ** 2).sum(axis=2))


def _study_data(seed: int, k: int = 40):
    """Trained networks at params (a, b); their network position is (a, u) with a hidden
    ``u`` the parameters do not show; the objective depends on a and u."""
    rng = np.random.default_rng(seed)
    ab, u = rng.uniform(size=(k, 2)), rng.uniform(size=k)
    x = ENC.encode([{"a": a, "b": b} for a, b in ab])
    position = np.column_stack([ab[:, 0], u])
    y = np.sin(3 * ab[:, 0]) + 2 * np.cos(6 * u)
    return x, y, position


def test_positions_are_exact_for_convex_combinations():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 3))  # trained networks as explicit Euclidean points
    net_x = ENC.encode([{"a": a, "b": b} for a, b in rng.uniform(size=(12, 2))])
    positions = NetworkPositions(lambda p, q: (ENC.deltas(p, q) ** 2).sum(axis=2), net_x, _pairwise(points, points))
    new = ENC.encode([{"a": a, "b": b} for a, b in rng.uniform(size=(7, 2))])
    placed_new, placed_net = positions.place(new), positions.place(net_x)
    assert np.allclose(placed_net[1].max(axis=1), 1.0)  # a trained network sits on itself

    def explicit(placed):
        rows, weights = placed
        return np.einsum("ik,ikd->id", weights, points[rows])

    expected = _pairwise(explicit(placed_new), explicit(placed_net)) ** 2
    np.testing.assert_allclose(positions.squared(placed_new, placed_net), expected, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_network_positions_that_carry_the_objective_get_weight(seed):
    x, y, position = _study_data(seed)
    gp = MixedGP(W, ENC.deltas, x, _pairwise(position, position)).fit(x, y)
    assert gp.beta > 0
    # the large-study route (selection on a subset) chooses it too, and predicts
    large = MixedGP(W, ENC.deltas, x, _pairwise(position, position), select_points=20).fit(x, y)
    assert large.beta > 0 and np.all(np.isfinite(large.predict(x[:5])[0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_positions_leave_the_surrogate_unchanged(seed):
    x, y, _ = _study_data(seed)
    y = np.sin(3 * ENC.deltas(x, x[:1])[:, 0, 0])  # the objective: parameters alone
    noise = np.random.default_rng(100 + seed).normal(size=(len(x), 2))
    gp = MixedGP(W, ENC.deltas, x, _pairwise(noise, noise)).fit(x, y)
    plain = MetricGP(W, ENC.deltas).fit(x, y)
    assert gp.beta == 0
    new = ENC.encode([{"a": a, "b": b} for a, b in np.random.default_rng(seed).uniform(size=(9, 2))])
    for mine, theirs in zip(gp.predict(new), plain.predict(new), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(gp.kernel(new, x), plain.kernel(new, x))


def test_bad_options_are_refused_in_one_line():
    for kwargs, words in [({"kernel": "network"}, "kernel must be"),
                          ({"kernel": "mixed", "surrogate": "ard"}, "needs surrogate 'uniform' or 'auto'"),
                          ({"kernel": "mixed", "distance": "params"}, "distance='network'")]:  # fmt: skip
        with pytest.raises(ValueError, match=words) as error:
            ManifoldSampler(**kwargs)
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="betas"):
        MixedGP(W, ENC.deltas, np.zeros((3, 2)), np.ones((3, 3)), betas=())


LABELS = np.repeat(np.arange(4), 8)


def _objective(trial):
    a, b = trial.suggest_float("a", 0, 1), trial.suggest_float("b", 0, 1)
    rng = np.random.default_rng(int(1e6 * a))
    latent = np.random.default_rng(0).normal(size=(32, 3)) + LABELS[:, None]
    rep = np.tanh(latent @ (np.eye(3, 6) * (1 + 3 * a)) + 0.1 * rng.normal(size=(32, 6)))
    record_representations(trial, {"penultimate": rep}, "probe", LABELS)
    return -((a - 0.7) ** 2) - 0.1 * (b - 0.2) ** 2


def _proposals(seed):
    sampler = ManifoldSampler(seed=seed, n_startup_trials=6, kernel="mixed", annotate=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective, n_trials=14)
    return [t.params for t in study.trials], [t.user_attrs.get(PROPOSAL) for t in study.trials]


def test_mixed_proposals_are_deterministic_for_a_seed_and_record_beta():
    params, attrs = _proposals(3)
    again, _ = _proposals(3)
    assert params == again
    betas = [a["network_beta"] for a in attrs if a is not None]
    assert len(betas) == 8 and all(b in (0.0, 0.25, 1.0, 4.0) for b in betas)
