"""The ARD Gaussian process: exact gradients, relevance learned, log EI without underflow."""

from __future__ import annotations

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution
from scipy.optimize import approx_fprime

from manifold_search._ard_gp import ArdGP, log_expected_improvement
from manifold_search._params import ParamEncoder
from manifold_search._surrogate import expected_improvement


def _data(n=40, seed=0):
    enc = ParamEncoder({f"x{i}": FloatDistribution(0, 1) for i in range(4)}
                       | {"c": CategoricalDistribution(["p", "q", "r"])})
    rng = np.random.default_rng(seed)
    configs = [{**{f"x{i}": float(v) for i, v in enumerate(row)}, "c": str(rng.choice(["p", "q", "r"]))}
               for row in rng.random((n, 4))]
    x = enc.encode(configs)
    return enc, x, np.sin(6 * x[:, 0]) + 0.8 * (x[:, 4] == 1)


def test_gradient_matches_finite_differences():
    enc, x, y = _data()
    gp = ArdGP(enc.deltas)
    d2 = enc.deltas(x, x) ** 2
    z = (y - y.mean()) / y.std()
    rng = np.random.default_rng(1)
    for _ in range(3):
        params = rng.normal(0, 1, d2.shape[2] + 2)
        analytic = gp._neg_log_posterior(params, d2, z)[1]
        numeric = approx_fprime(params, lambda p: gp._neg_log_posterior(p, d2, z)[0], 1e-6)
        assert np.allclose(analytic, numeric, rtol=1e-3, atol=1e-3)


def test_relevant_parameters_get_short_length_scales():
    enc, x, y = _data(60)
    gp = ArdGP(enc.deltas).fit(x, y)
    relevant = gp.theta[0]
    irrelevant = gp.theta[1:4]
    assert np.all(relevant > 10 * irrelevant)


def test_predicts_held_out_points_better_than_the_mean():
    enc, x, y = _data(60)
    _, x_test, y_test = _data(200, seed=5)
    mean, std = ArdGP(enc.deltas).fit(x, y).predict(x_test)
    assert np.mean((mean - y_test) ** 2) < 0.1 * np.var(y_test)
    assert np.all(std > 0)


def test_log_ei_matches_ei_and_stays_finite_where_ei_underflows():
    mean = np.array([0.0, -1.0, -3.0, 2.0])
    std = np.array([1.0, 0.5, 2.0, 0.1])
    assert np.allclose(log_expected_improvement(mean, std, 0.3),
                       np.log(expected_improvement(mean, std, 0.3)))
    far = log_expected_improvement(np.array([-60.0, -80.0]), np.ones(2), 0.0)
    assert np.all(np.isfinite(far)) and far[0] > far[1]


def test_warm_start_reaches_the_cold_fit_and_is_the_only_start():
    enc, x, y = _data(60)
    cold = ArdGP(enc.deltas, n_restarts=2).fit(x, y)
    warm = ArdGP(enc.deltas, n_restarts=2, warm_start=cold.params).fit(x, y)
    assert np.allclose(warm.theta, cold.theta, rtol=1e-2)
    # a start of the wrong length (another search space) is ignored, not an error
    other = ArdGP(enc.deltas, warm_start=np.zeros(3)).fit(x, y)
    assert np.all(other.theta[0] > 10 * other.theta[1:4])


def test_large_sets_choose_hyperparameters_on_a_subset_but_predict_from_all():
    enc, x, y = _data(120)
    capped = ArdGP(enc.deltas, select_points=40).fit(x, y)
    assert len(capped.x) == 120 and capped.alpha.shape == (120,)
    assert capped.theta[0] > 10 * capped.theta[1:4].max()  # relevance still found on 40 points
    mean, _ = capped.predict(x[:5])
    assert np.allclose(mean, y[:5], atol=0.1)  # every point enters the posterior
