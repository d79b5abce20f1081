"""Values the sampler proposes sit exactly inside their distribution (issue 12: a
proposal read ``1.0000000000000004e-06`` for a log-float whose low bound is 1e-6)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import FloatDistribution, IntDistribution

from manifold_search._params import from_position, position
from manifold_search.proposal import CandidateGenerator


def _contains(dist, value) -> bool:
    return dist._contains(dist.to_internal_repr(value))


def test_log_float_bounds_come_back_exactly() -> None:
    dist = FloatDistribution(1e-6, 1e-1, log=True)
    assert math.exp(math.log(1e-6)) != 1e-6  # the noise this guards against
    assert from_position(dist, 0.0) == 1e-6
    assert repr(from_position(dist, 0.0)) == "1e-06"
    assert from_position(dist, -0.3) == 1e-6  # a mutation past the bound is clipped
    assert from_position(dist, 1.0) == 1e-1
    assert from_position(dist, 1.7) == 1e-1
    assert from_position(dist, 1e-17) == 1e-6  # within rounding of the bound: the bound
    assert from_position(dist, position(dist, 1e-6)) == 1e-6


def test_stepped_float_lands_on_the_grid_without_noise() -> None:
    dist = FloatDistribution(0.0, 0.5, step=0.1)
    values = {from_position(dist, p) for p in np.linspace(0, 1, 101)}
    assert values == {0.0, 0.1, 0.2, 0.3, 0.4, 0.5}


@settings(max_examples=300, deadline=None)
@given(
    low_exp=st.floats(-9, 2),
    span=st.floats(0.1, 8),
    pos=st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 1.0, 1e-16, 1 - 1e-16])),
    log=st.booleans(),
)
def test_float_positions_stay_in_the_distribution(low_exp: float, span: float, pos: float,
                                                  log: bool) -> None:  # fmt: skip
    dist = FloatDistribution(10.0**low_exp, 10.0 ** (low_exp + span), log=log)
    value = from_position(dist, pos)
    assert dist.low <= value <= dist.high
    assert _contains(dist, value)
    if pos <= 0:
        assert value == dist.low
    if pos >= 1:
        assert value == dist.high


@settings(max_examples=200, deadline=None)
@given(low=st.integers(1, 50), n=st.integers(1, 40), step=st.integers(1, 4),
       log=st.booleans(), pos=st.floats(-0.5, 1.5))  # fmt: skip
def test_int_positions_stay_in_the_distribution(low: int, n: int, step: int, log: bool,
                                                pos: float) -> None:  # fmt: skip
    dist = IntDistribution(low, low + n * step, log=log, step=1 if log else step)
    value = from_position(dist, pos)
    assert isinstance(value, int)
    assert _contains(dist, value)
    if pos <= 0:
        assert value == dist.low
    if pos >= 1:
        assert value == dist.high


def test_mutations_past_a_log_bound_give_the_bound() -> None:
    """Mutations of a value next to the bound propose the bound itself (never the bound
    plus noise) whenever they step past it."""
    dists = {"lr": FloatDistribution(1e-6, 1e-1, log=True)}
    gen = CandidateGenerator(dists, [{"lr": 1e-6}, {"lr": 1e-3}], np.random.default_rng(0))
    proposed = [gen.mutate({"lr": 1.5e-6}, 1, {"lr": 0.3})["lr"] for _ in range(400)]
    near_low = [v for v in proposed if v < 1.0000001e-6]
    assert near_low, "a spread of 0.3 at the bound must step past it sometimes"
    assert all(v == 1e-6 for v in near_low)
    assert all(_contains(dists["lr"], v) for v in proposed)
