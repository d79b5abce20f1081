"""Place networks on a fitted manifold without changing it (out of sample).

The refine stage's sparse networks belong on the picture beside their dense
originals, but not in the geometry: they are no trials, so they must not move the
dense networks' layout nor reach the sampler. :func:`place_outside` measures them
against a :class:`~manifold_search.manifold.NetworkManifold` (their diffusion
operators, built with the manifold's own bandwidth, and their network distances to
every held network) and positions them in the manifold's fitted 2-D layout.

Why not PHATE's own ``transform``: PHATE 2.0 refuses out-of-sample data when it was
fitted on a precomputed distance matrix ("Cannot transform additional data using
a precomputed distance matrix"), and its rule for other inputs is the new point's
alpha-decay kernel row (``decay = 40``: nearly a hard k-nearest-neighbour cut)
times the fitted coordinates, which would put a sparse network that computes
exactly what its original computes at the *mean* of the original's neighbourhood,
not on the original. So the placement is
:func:`manifold_search.embedding.place_among`, the rule the manifold already uses
for networks added between PHATE fits: the mean of the ``knn`` nearest fitted
networks weighted by inverse squared distance (Shepard interpolation). A sparse
network that kept its function lands on its original; one that lost it moves
towards the networks it now resembles. It stays inside the convex hull of its
neighbours: a network unlike every dense one is drawn among its nearest, and its
distance (shown beside it) says how far it really is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from manifold_search.embedding import DEFAULT_KNN, place_among
from manifold_search.geometry import (
    distances_to,
    operator_from_distances,
    pairwise_distances,
    single_threaded_blas,
)
from manifold_search.manifold import NetworkManifold
from manifold_search.records import collapse_nonfinite


def outside_distances(manifold: NetworkManifold, representations: Sequence[np.ndarray],
                      names: Sequence[str] | None = None) -> np.ndarray:  # fmt: skip
    """Network distances (``m x k``, rows = ``representations``, columns = ``manifold.keys``).

    Each operator is built like the manifold's own (same bandwidth and ``knn``); the
    distances are direct differences (:func:`~manifold_search.geometry.distances_to`),
    accurate for a network nearly identical to a held one. The manifold is not changed.
    ``names`` name the networks in warnings (a diverged one is placed as collapsed).
    """
    keys = manifold.keys
    out = np.zeros((len(representations), len(keys)))
    if not keys:
        return out
    with single_threaded_blas():
        stack = np.stack([manifold.operator(k).reshape(-1) for k in keys])
        for i, representation in enumerate(representations):
            x = collapse_nonfinite(representation, names[i] if names else f"outside {i}")
            if len(x) != manifold.n_points:
                raise ValueError(f"a network placed out of sample has {len(x)} probe points, the "
                                 f"manifold's have {manifold.n_points}; probe it on the study's probe set")  # fmt: skip
            op = operator_from_distances(pairwise_distances(x), manifold.bandwidth, manifold.knn, np.float32)
            out[i] = distances_to(op, stack)
    return out


def place_outside(manifold: NetworkManifold, representations: Sequence[np.ndarray], coords: np.ndarray,
                  knn: int = DEFAULT_KNN, names: Sequence[str] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(distances m x k, coordinates m x c)`` of networks placed among ``coords``.

    ``coords`` is the manifold's fitted layout (rows = ``manifold.keys``, e.g.
    :meth:`NetworkManifold.embed`); see the module docstring for the rule.
    """
    distances = outside_distances(manifold, representations, names)
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) != len(manifold.keys):
        raise ValueError(f"{len(coords)} coordinates for a manifold of {len(manifold.keys)} networks")
    return distances, place_among(coords, distances, knn)


__all__ = ["outside_distances", "place_outside"]
