"""The four features move the right way on point clouds whose answer is known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from manifold_search.features import (
    class_separation,
    class_silhouette,
    diagram_distance,
    diffusion_spectral_entropy,
    hierarchy_features,
    network_features,
    persistence_diagrams,
    persistence_entropy,
    total_persistence,
)
from manifold_search.geometry import pairwise_distances

N, K = 128, 4
LABELS = np.repeat(np.arange(K), N // K)


def clusters(spread: float = 0.2, seed: int = 0) -> np.ndarray:
    """K tight clusters at the corners of a simplex (equidistant), labelled by cluster."""
    rng = np.random.default_rng(seed)
    centres = 10.0 * np.eye(K)
    return np.hstack([centres[LABELS], np.zeros((N, 6))]) + spread * rng.normal(size=(N, K + 6))


def blob(dim: int = 10, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(N, dim))


def noisy_circle(seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 2 * np.pi, N)
    return np.c_[np.cos(theta), np.sin(theta)] + 0.05 * rng.normal(size=(N, 2))


def test_class_separation_rises_with_separated_classes() -> None:
    separated, mixed = class_separation(clusters(), LABELS), class_separation(blob(), LABELS)
    assert separated > 0.95
    assert mixed < 0.1  # about (K - 1) / (N - 1) for labels unrelated to the geometry
    assert class_silhouette(pairwise_distances(clusters()), LABELS) > 0.8
    assert abs(class_silhouette(pairwise_distances(blob()), LABELS)) < 0.1


def test_silhouette_matches_scikit_learn() -> None:
    from sklearn.metrics import silhouette_score

    x = blob() + LABELS[:, None] * 0.5
    d = pairwise_distances(x)
    expected = silhouette_score(d, LABELS, metric="precomputed")
    assert class_silhouette(d, LABELS) == pytest.approx(expected, abs=1e-10)


def test_hierarchy_follows_clusters() -> None:
    tree_clusters = hierarchy_features(clusters(), LABELS)
    tree_blob = hierarchy_features(blob(), LABELS)
    assert tree_clusters["ward_top_share"] > 0.95 > tree_blob["ward_top_share"]
    assert tree_clusters["ward_label_agreement"] > 0.9
    assert abs(tree_blob["ward_label_agreement"]) < 0.2


def test_spectral_entropy_as_the_formula_predicts() -> None:
    # K equidistant tight clusters: K - 1 equal non-trivial eigenvalues, nothing else
    assert diffusion_spectral_entropy(clusters(spread=0.05), t=1) == pytest.approx(
        math.log(K - 1), abs=0.05
    )
    assert diffusion_spectral_entropy(clusters(), t=5) == pytest.approx(math.log(K - 1), abs=0.01)
    # a diffuse 10-D cloud spreads the spectrum: far higher, below the log(n - 1) bound
    diffuse = diffusion_spectral_entropy(blob(), t=1)
    assert math.log(K - 1) + 1.0 < diffuse < math.log(N - 1)
    # a single point cloud with all points equal has no non-trivial spectrum
    assert diffusion_spectral_entropy(np.ones((10, 3))) == 0.0


def test_loop_raises_h1_persistence() -> None:
    circle = persistence_diagrams(noisy_circle())
    flat_blob = persistence_diagrams(blob(dim=2))
    assert total_persistence(circle[1]) > 2 * total_persistence(flat_blob[1])
    assert persistence_entropy(circle[1]) < persistence_entropy(flat_blob[1])  # one bar dominates
    assert len(circle[0]) > 0 and np.all(np.isfinite(circle[0]))  # infinite H0 bar dropped


def test_diagram_wasserstein_is_a_distance() -> None:
    circle = persistence_diagrams(noisy_circle())[1]
    other = persistence_diagrams(blob(dim=2))[1]
    assert diagram_distance(circle, circle) == pytest.approx(0.0, abs=1e-12)
    assert diagram_distance(circle, other) == pytest.approx(diagram_distance(other, circle))
    assert diagram_distance(circle, other) > 0.3
    assert diagram_distance(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0


def test_features_are_invariant_to_scale_rotation_and_width() -> None:
    x = clusters(spread=1.5)
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(20, x.shape[1])))
    base = network_features(x, LABELS)
    moved = network_features(7.0 * x @ q.T, LABELS)  # rotated into 20 dimensions, scaled
    assert base.keys() == moved.keys()
    for name in base:
        assert moved[name] == pytest.approx(base[name], rel=1e-4, abs=1e-6), name


def test_feature_dict_is_flat_json() -> None:
    features = network_features(blob(), LABELS)
    assert all(isinstance(v, float) for v in features.values())
    assert json.loads(json.dumps(features)) == features
    assert {
        "class_separation",
        "ward_top_share",
        "spectral_entropy",
        "h0_total_persistence",
        "h1_total_persistence",
        "h1_persistence_entropy",
    } <= features.keys()


def test_missing_or_wrong_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="labels"):
        class_separation(blob(), LABELS[:-1])
    with pytest.raises(ValueError, match="labels"):
        network_features(blob(), None)
