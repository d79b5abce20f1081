"""Link networks' manifold features to performance within a study (``feature_weight``).

Why: the method promises to score regions by embedding features linked to high
performance, and the features (class separation, silhouette, ward agreement,
spectral entropy, persistence) are computed for every recorded network anyway.
A ridge regression from each network's features, and its neighbourhood's
(the mean features of the networks near it on the manifold), to the objective
is fitted on the finished trials; its prediction says which networks *look*
like good ones. The link is trusted only as far as it predicts: the weight
given to it is scaled by the regression's leave-one-out R^2 (0 when the
features do not predict better than the mean), so noise features change
nothing.
"""

from __future__ import annotations

import numpy as np

MIN_NETWORKS = 8
RIDGE = 1.0  # on standardised columns, per network


def neighbourhood_features(features: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """Each network's neighbours' mean features, weighted by a Gaussian kernel over
    network distances (bandwidth: the median distance), the network itself excluded."""
    k = len(features)
    off = distances[~np.eye(k, dtype=bool)]
    h = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
    w = np.exp(-(distances**2) / h**2)
    np.fill_diagonal(w, 0.0)
    return (w @ features) / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.where(np.isfinite(x), x, np.nan)
    mean = np.nanmean(x, axis=0)
    x = np.where(np.isnan(x), mean, x)
    std = x.std(axis=0)
    keep = std > 1e-12
    return (x[:, keep] - mean[keep]) / std[keep]


def feature_link(features: np.ndarray, distances: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, float]:  # fmt: skip
    """Predicted objective per network from its and its neighbourhood's features, and
    the leave-one-out R^2 of that prediction (``(values, 0.0)`` with too few networks).

    ``features`` is ``k x f``, ``distances`` the ``k x k`` network distances,
    ``values`` the objective (higher is better).
    """
    k = len(values)
    if k < MIN_NETWORKS:
        return np.asarray(values, dtype=float), 0.0
    own = np.nan_to_num(np.asarray(features, dtype=float), nan=np.nan)
    design = _standardise(np.hstack([own, neighbourhood_features(np.nan_to_num(own), distances)]))
    y = np.asarray(values, dtype=float)
    yc = y - y.mean()
    ss = float(yc @ yc)
    if design.shape[1] == 0 or ss <= 0:
        return np.asarray(values, dtype=float), 0.0
    gram = design.T @ design + RIDGE * k * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, design.T @ yc)
    fitted = design @ coef
    hat = np.einsum("ij,ji->i", design, np.linalg.solve(gram, design.T)) + 1.0 / k
    loo = (yc - fitted) / np.maximum(1.0 - hat, 1e-6)
    return y.mean() + fitted, max(0.0, 1.0 - float(loo @ loo) / ss)


def blend(region: np.ndarray, predicted: np.ndarray, rows: list[int], r2: float,
          weight: float) -> np.ndarray:  # fmt: skip
    """Region scores (rescaled to max 1) plus ``weight x R^2 x`` the predicted objective
    rescaled to [0, 1]; trials without a network get the networks' mean prediction."""
    out = region / max(float(region.max()), 1e-12)
    if weight <= 0 or r2 <= 0 or len(rows) == 0:
        return out
    span = float(predicted.max() - predicted.min())
    level = (predicted - predicted.min()) / span if span > 0 else np.zeros_like(predicted)
    lift = np.full(len(region), float(level.mean()))
    lift[rows] = level
    return out + weight * r2 * lift
