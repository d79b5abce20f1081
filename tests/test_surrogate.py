"""Parameter encoding, the metric fit and the GP surrogate on cases with known answers."""

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from manifold_search._params import ParamEncoder, from_position, position
from manifold_search._surrogate import MetricGP, expected_improvement, fit_metric


def test_positions_follow_scale_and_order():
    lr = FloatDistribution(1e-4, 1e-1, log=True)
    assert abs(position(lr, 1e-2) - 2 / 3) < 1e-9
    grid = CategoricalDistribution([0.1, 0.001, 0.01])
    assert [position(grid, v) for v in (0.001, 0.01, 0.1)] == [0.0, 0.5, 1.0]
    assert from_position(grid, 0.9) == 0.1
    assert from_position(IntDistribution(1, 9, step=2), 0.4) in (3, 5)


def test_deltas_count_a_structural_switch_once():
    enc = ParamEncoder({
        "family": CategoricalDistribution(["a", "b"]),
        "a_width": IntDistribution(1, 10),
        "b_depth": IntDistribution(1, 3),
    })
    x = enc.encode([{"family": "a", "a_width": 1}, {"family": "b", "b_depth": 3},
                    {"family": "a", "a_width": 10}])
    d = enc.deltas(x, x)
    columns = enc.columns
    assert d.shape == (3, 3, 4) and columns[-1] == "(structure)"
    assert d[0, 1, columns.index("family")] == 1 and d[0, 1, -1] == 1
    assert d[0, 1, columns.index("a_width")] == 0  # absent on one side: counted by structure
    assert d[0, 2, columns.index("a_width")] == 1 and d[0, 2, -1] == 0


def test_fit_metric_finds_the_parameters_that_move_the_target():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 3))
    deltas = np.abs(x[:, None, :] - x[None, :, :])
    target = np.sqrt(4 * deltas[..., 0] ** 2 + 0 * deltas[..., 1] ** 2 + 1 * deltas[..., 2] ** 2)
    w = fit_metric(deltas, target)
    assert w[0] > w[2] > w[1]
    assert w[0] / w[2] > 2


def test_gp_interpolates_and_is_unsure_far_away():
    enc = ParamEncoder({"x": FloatDistribution(0, 1)})
    xs = np.linspace(0, 0.5, 8)
    train = enc.encode([{"x": v} for v in xs])
    gp = MetricGP(np.ones(len(enc.columns)), enc.deltas).fit(train, np.sin(6 * xs))
    mean, std = gp.predict(enc.encode([{"x": 0.25}, {"x": 1.0}]))
    assert abs(mean[0] - np.sin(1.5)) < 0.05
    assert std[1] > 5 * std[0]
    ei = expected_improvement(np.array([0.0, 1.0]), np.array([0.1, 0.1]), best=0.5)
    assert ei[1] > ei[0] > 0
