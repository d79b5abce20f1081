"""PHATE embedding of the network manifold from precomputed network distances.

PHATE (Moon et al. 2019) turns the network-by-network distance matrix into a
kernel over networks (adaptive k-NN bandwidth, alpha-decay), diffuses it ``t`` steps,
takes log potentials and lays them out with metric MDS. Two of its defaults do not
fit a hyperparameter study, where the manifold holds from 3 to a few hundred
networks: ``t="auto"`` picks a diffusion time near ``n / 2`` on tiny inputs (which
blurs everything into one point), and the SGD MDS solver fails below 4 points and is
both slower and less accurate than SMACOF at these sizes. So:

* ``knn = min(5, n - 2)`` (graphtools needs ``knn <= n - 2``),
* ``t = clip(round(sqrt(n)), 1, 20)`` from :func:`default_t` (see its docstring for
  the comparison it was chosen by),
* ``mds_solver="smacof"``, ``n_jobs=1``, ``verbose=0``, ``random_state=seed``: the same
  distances and seed give the same coordinates.

Placing new networks: PHATE has no out-of-sample ``transform`` for precomputed
distances, so a grown manifold is *refitted* (about 20-60 ms for 200 networks here).
A refit may rotate or mirror the layout; :func:`align_to` rotates the new coordinates
onto the previous ones (orthogonal Procrustes on the networks both layouts share) so
that coordinates shown to a user stay put when a network is added.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from manifold_search._clamp import clamp_option
from manifold_search.geometry import single_threaded_blas

#: Upper bound of PHATE's neighbourhood size on the network graph.
DEFAULT_KNN = 5
#: PHATE's kernel decay (alpha); PHATE's own default.
DEFAULT_DECAY = 40


def default_knn(n: int) -> int:
    """PHATE's ``knn`` for ``n`` networks: ``min(5, n - 2)``, at least 1."""
    return int(max(1, min(DEFAULT_KNN, n - 2)))


def default_t(n: int) -> int:
    """Diffusion time for ``n`` networks: ``clip(round(sqrt(n)), 1, 20)``.

    1 up to 2 networks, 5 at 30, 10 at 100, 14 at 200, 20 from 380. Measured during
    development on 320 trained MNIST-1D networks (random subsets, 16 draws per size):
    leave-one-out 5-NN prediction of validation accuracy from the 2-D embedding gave
    Spearman 0.25 / 0.43 / 0.59 / 0.69 / 0.74 at n = 30 / 60 / 120 / 200 / 320 with this
    rule, against 0.15 / 0.40 / 0.55 / 0.67 / 0.72 with ``t = sqrt(n) / 2`` and
    0.18 / 0.43 / 0.59 / 0.69 / 0.74 with PHATE's ``t="auto"`` (which costs a von
    Neumann entropy scan and picks about n / 2 on tiny inputs). The network distances
    themselves did better (0.44 / 0.66 / 0.74 / 0.80 / 0.85): predict from
    :meth:`NetworkManifold.distances`, show the embedding.
    """
    return int(min(20, max(1, round(math.sqrt(max(n, 1))))))


def _check_distances(distances: np.ndarray) -> np.ndarray:
    d = np.asarray(distances, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"network distances must be a square k x k matrix, got shape {d.shape}")
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError("network distances must be finite and non-negative")
    if not np.allclose(d, d.T, rtol=1e-6, atol=1e-9):
        raise ValueError("network distances must be symmetric; pass NetworkManifold.distances()")
    return d


def phate_embedding(
    distances: np.ndarray,
    n_components: int = 2,
    seed: int = 0,
    knn: int | None = None,
    t: int | str | None = None,
    decay: float = DEFAULT_DECAY,
) -> np.ndarray:
    """PHATE coordinates (k x ``n_components``) of networks from their distance matrix.

    Runs ``phate.PHATE(knn_dist="precomputed_distance")`` from 3 networks upward. Fewer
    networks get a trivial layout: none -> empty, one -> the origin, two -> on the first
    axis at ``-d/2`` and ``+d/2``. Networks that all coincide sit at the origin.
    Deterministic for a given ``seed``.
    """
    d = _check_distances(distances)
    k = len(d)
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    out = np.zeros((k, n_components))
    if k <= 1 or not np.any(d > 0):
        return out
    if k == 2:
        out[0, 0], out[1, 0] = -d[0, 1] / 2.0, d[0, 1] / 2.0
        return out
    if n_components > k:
        raise ValueError(f"cannot embed {k} networks in {n_components} dimensions; use fewer")
    import phate

    if knn is not None and knn < 1:
        raise ValueError(f"knn must be at least 1, got {knn}")
    knn = default_knn(k) if knn is None else clamp_option("knn", int(knn), 1, k - 2,
                                                          f"to embed {k} networks")  # fmt: skip
    t = default_t(k) if t is None else (t if t == "auto" else int(t))
    operator = phate.PHATE(
        n_components=n_components,
        knn=knn,
        decay=decay,
        t=t,
        knn_dist="precomputed_distance",
        mds_solver="smacof",
        n_jobs=1,
        random_state=seed,
        verbose=0,
    )
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore")
        coords = operator.fit_transform(d)
    coords = np.asarray(coords, dtype=np.float64)
    if not np.all(np.isfinite(coords)):
        raise RuntimeError(
            "PHATE returned non-finite coordinates; check the network distances for "
            "duplicated networks or pass a smaller t"
        )
    return coords


def align_to(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate/mirror and shift ``coords`` to best match ``reference`` on shared rows.

    ``reference`` holds the previous layout of the first ``len(reference)`` networks
    (a manifold only grows); the orthogonal Procrustes solution ``R`` on those rows
    (no scaling, so distances in the new layout are kept) is applied to all rows.
    """
    coords = np.asarray(coords, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    m = len(reference)
    if m == 0 or reference.shape[1] != coords.shape[1] or m > len(coords):
        return coords
    a = coords[:m]
    mu_a, mu_b = a.mean(axis=0), reference.mean(axis=0)
    u, _, vt = np.linalg.svd((a - mu_a).T @ (reference - mu_b))
    rotation = u @ vt
    return (coords - mu_a) @ rotation + mu_b


#: Up to this many networks every change refits PHATE (about 0.1 s at 200 networks).
EXACT_BELOW = 300
#: Above :data:`EXACT_BELOW`, refit once the manifold has grown by this fraction.
REFIT_GROWTH = 0.1


def needs_refit(n_fitted: int, n_now: int) -> bool:
    """Whether a layout fitted on ``n_fitted`` networks must be refitted for ``n_now``.

    Always at or below :data:`EXACT_BELOW` networks (the layout is then exactly
    PHATE's); above, once ``n_now >= (1 + REFIT_GROWTH) * n_fitted``. PHATE's MDS
    is quadratic or worse in the networks (seconds at 1,000) and one network more
    barely moves a layout of hundreds, so refitting on every trial spent most of a
    large study's after-trial time on a picture; growing by a tenth between fits
    keeps the amortised cost per trial near constant.
    """
    grown = n_now - n_fitted
    return n_now <= EXACT_BELOW or grown < 0 or grown >= REFIT_GROWTH * n_fitted - 1e-9


def extend_embedding(coords: np.ndarray, distances: np.ndarray, knn: int = DEFAULT_KNN) -> np.ndarray:
    """Place networks added after a fit without refitting (rows ``len(coords):``).

    ``coords`` are the fitted coordinates of the first ``len(coords)`` rows of the
    ``k x k`` network ``distances``. Each new network goes to the weighted mean of
    its ``knn`` nearest fitted networks weighted by inverse squared distance (Shepard
    interpolation): a network that duplicates a fitted one lands on top of it, one
    between two lands between them. The fitted rows keep their coordinates.
    """
    coords = np.asarray(coords, dtype=np.float64)
    m, k = len(coords), len(distances)
    out = np.zeros((k, coords.shape[1]))
    out[:m] = coords
    if k > m and m > 0:
        out[m:] = place_among(coords, np.asarray(distances, dtype=np.float64)[m:, :m], knn)
    return out


def place_among(coords: np.ndarray, near: np.ndarray, knn: int = DEFAULT_KNN) -> np.ndarray:
    """Coordinates of new networks from their distances ``near`` (new x fitted) to the
    fitted ones at ``coords``: see :func:`extend_embedding`."""
    coords = np.asarray(coords, dtype=np.float64)
    near = np.asarray(near, dtype=np.float64)
    if len(near) == 0 or len(coords) == 0:
        return np.zeros((len(near), coords.shape[1]))
    q = int(min(max(knn, 1), len(coords)))
    nearest = np.argpartition(near, q - 1, axis=1)[:, :q]
    d = np.take_along_axis(near, nearest, axis=1)
    scale = np.maximum(d.max(axis=1, keepdims=True), 1e-300)
    weights = 1.0 / ((d / scale) ** 2 + 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ij,ijc->ic", weights, coords[nearest])
