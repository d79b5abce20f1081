"""Diffusion operators and network distances: the invariances the method rests on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_search.geometry import (
    FIXED_SIGMA,
    cross_network_distances,
    diffusion_operator,
    distances_to,
    network_distance,
    network_distances,
    pairwise_distances,
)

N = 64


def representation(seed: int, width: int = 16, n: int = N) -> np.ndarray:
    """A nonlinear representation of a shared latent structure (like a trained net)."""
    rng = np.random.default_rng(seed)
    latent = np.random.default_rng(0).normal(size=(n, 4))
    return np.tanh(latent @ rng.normal(size=(4, width))) + 0.1 * rng.normal(size=(n, width))


def dist(a: np.ndarray, b: np.ndarray, **kwargs) -> float:
    return network_distance(diffusion_operator(a, **kwargs), diffusion_operator(b, **kwargs))


def test_operator_is_row_stochastic() -> None:
    p = diffusion_operator(representation(1))
    assert p.shape == (N, N) and p.dtype == np.float32
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)


def test_identical_representations_have_distance_zero() -> None:
    x = representation(2)
    assert dist(x, x.copy()) == 0.0


def test_permuting_hidden_units_gives_distance_zero() -> None:
    x = representation(3, width=32)
    perm = np.random.default_rng(0).permutation(32)
    assert dist(x, x[:, perm]) < 1e-5


def test_orthogonal_rotation_gives_distance_zero() -> None:
    x = representation(4, width=24)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(24, 24)))
    assert dist(x, x @ q) < 1e-5


def test_networks_of_different_widths_compare() -> None:
    x = representation(5, width=8)
    # the same geometry embedded isometrically in 40 dimensions
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(40, 8)))
    assert dist(x, x @ q.T) < 1e-5
    # and a genuinely different network of another width is at a positive distance
    assert dist(x, representation(6, width=40)) > 1e-2


@pytest.mark.parametrize("bandwidth", ["median", "knn"])
def test_uniform_scaling_is_invisible_to_scale_free_bandwidths(bandwidth: str) -> None:
    x = representation(7)
    assert dist(x, 10.0 * x, bandwidth=bandwidth) < 1e-5
    assert dist(x, 0.01 * x, bandwidth=bandwidth) < 1e-5


def test_uniform_scaling_moves_the_fixed_bandwidth() -> None:
    x = representation(7)
    assert dist(x, 10.0 * x, bandwidth="fixed") > 0.1
    # "fixed" is the paper's sigma, also reachable as a number
    p_fixed = diffusion_operator(x, bandwidth="fixed")
    np.testing.assert_array_equal(p_fixed, diffusion_operator(x, bandwidth=FIXED_SIGMA))


@settings(max_examples=15, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 10_000), min_size=3, max_size=3, unique=True),
    widths=st.lists(st.integers(1, 48), min_size=3, max_size=3),
    scales=st.lists(st.floats(0.01, 100.0), min_size=3, max_size=3),
)
def test_distance_is_a_metric_on_random_networks(seeds, widths, scales) -> None:
    reps = [
        s * np.random.default_rng(seed).normal(size=(32, w))
        for seed, w, s in zip(seeds, widths, scales, strict=True)
    ]
    ops = [diffusion_operator(r) for r in reps]
    d = np.array([[network_distance(a, b) for b in ops] for a in ops])
    np.testing.assert_array_equal(d, d.T)
    assert np.all(np.diag(d) == 0)
    for i in range(3):
        for j in range(3):
            for k in range(3):
                assert d[i, k] <= d[i, j] + d[j, k] + 1e-9
    # the Gram-matrix route and the direct route agree
    np.testing.assert_allclose(network_distances(np.stack(ops)), d, atol=1e-6)
    np.testing.assert_allclose(distances_to(ops[0], np.stack(ops)), d[0], atol=1e-9)


def test_cross_distances_match_direct_ones() -> None:
    ops = np.stack([diffusion_operator(representation(s)) for s in range(6)])
    cross = cross_network_distances(ops[:2], ops[2:])
    direct = np.array([distances_to(op, ops[2:]) for op in ops[:2]])
    np.testing.assert_allclose(cross, direct, atol=1e-6)


def test_pairwise_distances_match_scipy() -> None:
    from scipy.spatial.distance import cdist

    x = representation(8) * 100 + 1000  # far from the origin: centring keeps precision
    np.testing.assert_allclose(pairwise_distances(x), cdist(x, x), atol=1e-8)


def test_coinciding_points_give_a_uniform_walk() -> None:
    p = diffusion_operator(np.ones((10, 3)))
    np.testing.assert_allclose(p, 0.1, atol=1e-7)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((4, 3, 2)), "n x d matrix"),
        (np.zeros((1, 3)), "at least 2"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN or inf"),
    ],
)
def test_bad_representations_are_refused_clearly(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        diffusion_operator(bad)


def test_bad_bandwidths_and_shapes_are_refused() -> None:
    x = representation(9)
    with pytest.raises(ValueError, match="unknown bandwidth"):
        diffusion_operator(x, bandwidth="silverman")
    with pytest.raises(ValueError, match="positive"):
        diffusion_operator(x, bandwidth=-1.0)
    with pytest.raises(ValueError, match="same probe set"):
        network_distance(diffusion_operator(x), diffusion_operator(x[:10]))


def test_single_threaded_blas_nests_and_restores() -> None:
    from threadpoolctl import threadpool_info

    from manifold_search.geometry import single_threaded_blas

    def blas_threads() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    with single_threaded_blas():
        with single_threaded_blas():
            assert blas_threads() == {1}
        assert blas_threads() == {1}  # the outer block still holds the limit
    assert blas_threads() == before


def test_distances_to_a_large_float32_stack_match_the_float64_route(monkeypatch):
    from manifold_search import geometry

    rng = np.random.default_rng(3)
    ops = np.stack([geometry.diffusion_operator(rng.normal(size=(24, 5))) for _ in range(12)])
    stack = ops.astype(np.float32)
    exact = geometry.distances_to(stack[0], stack)  # 12 <= the threshold: float64 route
    monkeypatch.setattr(geometry, "FLOAT64_DIFFERENCES_UP_TO", 4)
    fast = geometry.distances_to(stack[0], stack)
    assert fast[0] == 0.0
    np.testing.assert_allclose(fast[1:], exact[1:], rtol=1e-7)
