"""Property-based checks of the geometry: any finite input gives finite, symmetric,
non-negative distances (or a one-line ValueError), whatever its scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from manifold_search.geometry import (
    affinity,
    cross_network_distances,
    diffusion_operator,
    distances_to,
    network_distances,
    pairwise_distances,
)

FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
SCALES = st.sampled_from([1e-300, 1e-150, 1e-8, 1.0, 1e8, 1e150, 1e300])


def representations(max_points: int = 10, max_width: int = 5):
    shapes = st.tuples(st.integers(2, max_points), st.integers(1, max_width))
    return shapes.flatmap(lambda shape: arrays(np.float64, shape, elements=FINITE))


def scaled_representations():
    """Ordinary values times one extreme scale: the case a plain float array rarely hits."""
    base = st.tuples(st.integers(2, 10), st.integers(1, 5)).flatmap(
        lambda shape: arrays(np.float64, shape, elements=st.floats(-10, 10)))  # fmt: skip
    return st.tuples(base, SCALES).map(lambda pair: pair[0] * pair[1])


def overflows(x: np.ndarray) -> bool:
    """Rows further apart than float64 holds: the one case that may raise instead."""
    return float(np.max(np.abs(x))) > 1e307


def distances_or_clear_error(x: np.ndarray) -> np.ndarray | None:
    try:
        return pairwise_distances(x)
    except ValueError as error:
        assert overflows(x) and "float64" in str(error) and "\n" not in str(error)
        return None


def assert_distance_matrix(d: np.ndarray) -> None:
    assert np.all(np.isfinite(d)), "distances must be finite"
    assert np.all(d >= 0), "distances must be non-negative"
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)


def assert_operator(p: np.ndarray) -> None:
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


@settings(max_examples=150, deadline=None)
@given(x=st.one_of(representations(), scaled_representations()))
def test_pairwise_distances_of_any_finite_input(x: np.ndarray) -> None:
    d = distances_or_clear_error(x)
    if d is not None:
        assert_distance_matrix(d)


@settings(max_examples=150, deadline=None)
@given(x=st.one_of(representations(), scaled_representations()),
       bandwidth=st.sampled_from(["median", "knn", "fixed", 1e-200, 3.0, 1e200]))  # fmt: skip
def test_operator_of_any_finite_input_is_a_markov_matrix(x: np.ndarray, bandwidth) -> None:
    d = distances_or_clear_error(x)
    if d is None:
        return
    assert_operator(diffusion_operator(x, bandwidth=bandwidth, dtype=np.float64))
    w = affinity(d, bandwidth=bandwidth)
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    np.testing.assert_array_equal(w, w.T)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_points=st.integers(2, 8), k=st.integers(1, 5))
def test_network_distances_of_any_finite_networks(data, n_points: int, k: int) -> None:
    reps = [data.draw(st.one_of(
        arrays(np.float64, (n_points, data.draw(st.integers(1, 4))),
               elements=st.floats(-1e300, 1e300)),
        arrays(np.float64, (n_points, 2), elements=st.floats(-10, 10)).map(
            lambda a: a * data.draw(SCALES)),
    )) for _ in range(k)]  # fmt: skip
    ops = np.stack([diffusion_operator(r) for r in reps])
    d = network_distances(ops)
    assert_distance_matrix(d)
    np.testing.assert_allclose(d, cross_network_distances(ops, ops) * (1 - np.eye(k)), atol=1e-6)
    direct = distances_to(ops[0], ops)
    assert np.all(np.isfinite(direct)) and np.all(direct >= 0) and direct[0] == 0
    np.testing.assert_allclose(direct, d[0], atol=1e-6)
    # the Frobenius distance between two Markov matrices is at most sqrt(2 n)
    assert d.max() <= np.sqrt(2 * n_points) + 1e-9


@settings(max_examples=60, deadline=None)
@given(x=representations(), where=st.data(),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))  # fmt: skip
def test_non_finite_input_is_a_clear_error(x: np.ndarray, where, bad: float) -> None:
    i = where.draw(st.integers(0, x.size - 1))
    x = x.copy()
    x.flat[i] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        pairwise_distances(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        diffusion_operator(x)


@pytest.mark.parametrize("shape", [(1, 3), (0, 2), (4, 0), (2, 3, 4)])
def test_shapes_no_operator_can_be_built_from_are_refused(shape) -> None:
    with pytest.raises(ValueError, match="probe|hidden units|n x d"):
        diffusion_operator(np.zeros(shape))


def test_operators_of_different_sizes_are_refused() -> None:
    a = diffusion_operator(np.eye(4))
    b = diffusion_operator(np.eye(5))
    with pytest.raises(ValueError, match="same probe set"):
        distances_to(a, b[None])
    with pytest.raises(ValueError, match="same probe set"):
        cross_network_distances(a[None], b[None])
