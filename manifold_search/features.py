"""The four features of a network's representation, linked to performance by Abel et al.

Each feature describes how one network arranges the probe points, and each is
*comparable across networks*: invariant to permuting or rotating hidden units, to the
width, and to a uniform rescaling of the activations (distances are measured in units
of the representation's median pairwise distance, the same scale the default diffusion
bandwidth uses). The four families:

1. class separation -- do probe points of one class sit together, apart from others?
2. hierarchical cluster structure -- is the point cloud organised as a tree of
   clusters, and does that tree follow the classes?
3. diffusion spectral entropy -- how many independent directions does diffusion over
   the probe points keep alive (few: clustered / low-dimensional; many: diffuse)?
4. topology -- persistent homology (H0: components, H1: loops) of the point cloud.

:func:`network_features` returns all of them as one flat dict of floats with JSON
friendly names, ready for ``trial.set_user_attr``.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.cluster.hierarchy import cophenet, linkage
from scipy.spatial.distance import squareform

from manifold_search._clamp import clamp_option
from manifold_search.geometry import (
    DEFAULT_KNN,
    Bandwidth,
    affinity,
    as_representation,
    median_distance,
    pairwise_distances,
    single_threaded_blas,
)

#: Points kept (greedy furthest-point subsample) for persistent homology: ripser's
#: H1 cost grows steeply with the number of points (measured here on 256-probe
#: representations: about 3-5 ms at 64 points, 13-20 ms at 96-128 and 40-130 ms at
#: 256), and a furthest-point subsample keeps the large-scale loops and gaps that
#: dominate the persistence summaries. Keep it fixed within a study.
DEFAULT_TDA_POINTS = 64
#: Exponent of total persistence: with p = 2 a few long bars (real loops) outweigh
#: the many short bars of sampling noise (with p = 1 a 2-D Gaussian blob of 64 points
#: out-scores a noisy circle; with p = 2 the circle wins by a factor of 5).
DEFAULT_PERSISTENCE_POWER = 2.0


def _labels(labels: np.ndarray | None, n: int) -> np.ndarray:
    if labels is None:
        raise ValueError(
            "this feature needs the probe labels; pass labels=probe.labels (one per probe point)"
        )
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise ValueError(
            f"got {len(labels)} labels for {n} probe points; pass the labels of the probe "
            "set the representation was recorded on"
        )
    return labels


def _one_hot(labels: np.ndarray) -> np.ndarray:
    _, codes = np.unique(labels, return_inverse=True)
    onehot = np.zeros((len(labels), codes.max() + 1))
    onehot[np.arange(len(labels)), codes] = 1.0
    return onehot


# --------------------------------------------------------------------------------------
# 1. class separation


@single_threaded_blas()
def class_separation(representation: np.ndarray, labels: np.ndarray) -> float:
    """Share of the representation's scatter that lies *between* classes, in [0, 1].

    ``S_B / S_T`` with ``S_T = sum_i ||x_i - mu||^2`` and
    ``S_B = sum_c n_c ||mu_c - mu||^2`` (``mu_c``: class means). This is the trace form
    of Fisher's criterion (eta squared): 1 when every class collapses to its own point,
    about ``(C - 1) / (n - 1)`` when the labels are unrelated to the geometry. Scale and
    rotation invariant. 0.0 when all points coincide.
    """
    x = as_representation(representation)
    onehot = _one_hot(_labels(labels, len(x)))
    return _class_separation(x, onehot)


def _class_separation(x: np.ndarray, onehot: np.ndarray) -> float:
    centred = x - x.mean(axis=0)
    total = float(np.einsum("ij,ij->", centred, centred))
    if total <= 0.0:
        return 0.0
    counts = onehot.sum(axis=0)
    sums = onehot.T @ centred  # C x d: n_c * (mu_c - mu)
    between = float(np.sum(np.einsum("ij,ij->i", sums, sums) / counts))
    return min(max(between / total, 0.0), 1.0)


def class_silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of the probe points with the classes as clusters, in [-1, 1].

    For point ``i`` in class ``c``: ``a_i`` = mean distance to the other points of
    ``c``, ``b_i`` = the smallest mean distance to the points of another class,
    ``s_i = (b_i - a_i) / max(a_i, b_i)`` (0 for a class of one point). Unlike
    :func:`class_separation` it looks at distances, not variances, so a curved
    but well separated class still scores high. 0.0 with a single class.
    """
    d = np.asarray(distances, dtype=np.float64)
    return _class_silhouette(d, _one_hot(_labels(labels, len(d))))


def _class_silhouette(d: np.ndarray, onehot: np.ndarray) -> float:
    if onehot.shape[1] < 2:
        return 0.0
    counts = onehot.sum(axis=0)
    sums = d @ onehot  # n x C: summed distance from each point to each class
    own = onehot.astype(bool)
    own_count = counts[np.argmax(onehot, axis=1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(own_count > 1, sums[own] / (own_count - 1), 0.0)
        means = sums / counts
    means[own] = np.inf
    b = means.min(axis=1)
    denom = np.maximum(a, b)
    s = np.where((own_count > 1) & (denom > 0), (b - a) / np.where(denom > 0, denom, 1.0), 0.0)
    return float(s.mean())


# --------------------------------------------------------------------------------------
# 2. hierarchical cluster structure


@single_threaded_blas()
def hierarchy_features(
    representation: np.ndarray, labels: np.ndarray, n_top: int | None = None
) -> dict[str, float]:
    """Two numbers from the Ward dendrogram of the probe points.

    * ``ward_top_share``: share of the total Ward merge cost paid by the top ``m``
      merges, ``sum_{top m} h_k^2 / sum_k h_k^2`` with ``h_k`` the merge heights and
      ``m = n_top`` (default: number of classes - 1). Ward's cost of a merge is
      ``h^2 / 2`` and all costs add up to the total scatter, so this is the scatter
      explained by the best ``m + 1``-cluster cut of the tree, in [0, 1]: near 1 for
      well separated clusters, lower for a blob or a continuum. Label free.
    * ``ward_label_agreement``: Pearson correlation over all pairs between the
      cophenetic distance (height at which two points join) and ``[y_i != y_j]``, in
      [-1, 1]: does the tree separate classes early and join same-class points late?

    Both are scale and rotation invariant.
    """
    x = as_representation(representation)
    labels = _labels(labels, len(x))
    return _hierarchy(pairwise_distances(x), labels, n_top)


def _hierarchy(d: np.ndarray, labels: np.ndarray, n_top: int | None) -> dict[str, float]:
    n = len(d)
    n_classes = len(np.unique(labels))
    condensed = squareform(d, checks=False)
    if not np.any(condensed > 0):
        return {"ward_top_share": 0.0, "ward_label_agreement": 0.0}
    # Ward on Euclidean distances equals Ward on the points (Lance-Williams update)
    tree = linkage(condensed, method="ward")
    heights = tree[:, 2] ** 2
    if n_top is None:
        m = min(max(n_classes - 1, 1), n - 1)
    elif n_top < 1:
        raise ValueError(f"n_top must be at least 1, got {n_top}")
    else:
        m = clamp_option("n_top", int(n_top), 1, n - 1, f"with {n} points (at most n - 1 merges)")
    top_share = float(np.sort(heights)[::-1][:m].sum() / heights.sum())
    agreement = 0.0
    if n_classes > 1:
        coph = cophenet(tree)
        iu = np.triu_indices(n, k=1)
        different = (labels[iu[0]] != labels[iu[1]]).astype(np.float64)
        if coph.std() > 0 and different.std() > 0:
            agreement = float(np.corrcoef(coph, different)[0, 1])
    return {"ward_top_share": top_share, "ward_label_agreement": agreement}


# --------------------------------------------------------------------------------------
# 3. diffusion spectral entropy


@single_threaded_blas()
def diffusion_spectral_entropy(
    representation: np.ndarray,
    t: int = 1,
    bandwidth: Bandwidth = "median",
    knn: int = DEFAULT_KNN,
) -> float:
    """Entropy (nats) of the normalised non-trivial spectrum of the diffusion operator.

    With ``lambda_1 = 1 >= lambda_2 >= ... >= lambda_n`` the eigenvalues of ``P`` (taken
    from its symmetric conjugate ``D^-1/2 W D^-1/2``, which has the same spectrum), drop
    the trivial ``lambda_1`` and set ``p_k = |lambda_k|^t / sum_j |lambda_j|^t``; then
    ``DSE = -sum_k p_k log p_k``, between 0 and ``log(n - 1)``. ``k`` well separated,
    equidistant tight clusters leave ``k - 1`` equal non-trivial eigenvalues and almost
    nothing else, so DSE ~ ``log(k - 1)``; a diffuse high-dimensional cloud spreads the
    spectrum and scores higher. Larger ``t`` (diffusion time) suppresses the small,
    noisy eigenvalues. 0.0 when all points coincide.
    """
    w = affinity(pairwise_distances(representation), bandwidth=bandwidth, knn=knn)
    return _spectral_entropy(w, t)


#: Eigenvalues below this (the top one is 1) are eigensolver round-off.
_EIGEN_NOISE = 1e-10


def _symmetric_conjugate(w: np.ndarray) -> np.ndarray:
    """``A = D^-1/2 W D^-1/2``: similar to ``P = D^-1 W`` (same eigenvalues) but symmetric,
    so the spectrum comes from a stable symmetric eigensolver."""
    inv_sqrt = 1.0 / np.sqrt(w.sum(axis=1))
    return w * inv_sqrt[:, None] * inv_sqrt[None, :]


def _spectral_entropy(w: np.ndarray, t: float) -> float:
    eig = np.abs(np.linalg.eigvalsh(_symmetric_conjugate(w))[:-1])  # ascending; drop the trivial top eigenvalue 1
    eig[eig < _EIGEN_NOISE] = 0.0  # round-off of an eigensolver, not spectrum
    mass = eig**t
    total = mass.sum()
    if not total > 0:
        return 0.0
    p = mass[mass > 0] / total
    return float(-(p * np.log(p)).sum())


# --------------------------------------------------------------------------------------
# 4. topology


def persistence_diagrams(
    representation: np.ndarray | None = None,
    distances: np.ndarray | None = None,
    maxdim: int = 1,
    max_points: int | None = DEFAULT_TDA_POINTS,
) -> list[np.ndarray]:
    """Vietoris-Rips persistence diagrams H0..H``maxdim`` (ripser), finite bars only.

    Distances are divided by the median pairwise distance, so diagrams of a network
    and of its rescaled copy coincide. With more than ``max_points`` probe points
    ripser works on a greedy furthest-point subsample of that size (deterministic);
    keep ``max_points`` fixed within a study so totals stay comparable. The single
    infinite H0 bar is dropped. Give either the ``n x d`` representation or its
    ``n x n`` distance matrix.
    """
    from ripser import ripser

    if distances is None:
        if representation is None:
            raise ValueError("give a representation (n x d) or its distances (n x n)")
        distances = pairwise_distances(representation)
    d = np.asarray(distances, dtype=np.float64)
    scale = median_distance(d)
    if scale == 0.0:
        return [np.zeros((0, 2)) for _ in range(maxdim + 1)]
    n_perm = max_points if max_points is not None and len(d) > max_points else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ripser(d / scale, maxdim=maxdim, distance_matrix=True, n_perm=n_perm)
    return [dgm[np.isfinite(dgm[:, 1])] if len(dgm) else np.zeros((0, 2)) for dgm in result["dgms"]]


def total_persistence(diagram: np.ndarray, p: float = DEFAULT_PERSISTENCE_POWER) -> float:
    """Total persistence of order ``p``: ``sum_i (death_i - birth_i)^p`` over finite bars.

    The default ``p = 2`` (see :data:`DEFAULT_PERSISTENCE_POWER`) lets real features
    dominate noise; ``p = 1`` gives the plain sum of bar lengths.
    """
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    return float(np.sum((diagram[:, 1] - diagram[:, 0]) ** p))


def max_persistence(diagram: np.ndarray) -> float:
    """Length of the longest finite bar (0.0 for an empty diagram): the clearest feature."""
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    return float(np.max(diagram[:, 1] - diagram[:, 0])) if len(diagram) else 0.0


def persistence_entropy(diagram: np.ndarray) -> float:
    """Shannon entropy (nats) of the bar lengths, ``-sum_i (l_i / L) log(l_i / L)``.

    ``l_i = death_i - birth_i``, ``L = sum_i l_i``. Low: a few bars dominate (clear
    features); high: many bars of similar length (noise). 0.0 for an empty diagram.
    """
    diagram = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    lengths = diagram[:, 1] - diagram[:, 0]
    lengths = lengths[lengths > 0]
    if lengths.size == 0:
        return 0.0
    p = lengths / lengths.sum()
    return float(-(p * np.log(p)).sum())


def diagram_distance(diagram_a: np.ndarray, diagram_b: np.ndarray) -> float:
    """persim's Wasserstein distance between two diagrams of the same dimension.

    The optimal matching cost (1-Wasserstein, Euclidean ground distance; unmatched
    points go to the diagonal). Between two networks' H1 (or H0) diagrams it is a
    second, topological network distance, in units of each network's median probe
    distance. It solves an assignment problem, O((|a| + |b|)^3): fine per pair,
    expensive for all pairs of a large study.
    """
    from persim import wasserstein

    a = np.asarray(diagram_a, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(diagram_b, dtype=np.float64).reshape(-1, 2)
    if len(a) == 0 and len(b) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wasserstein(a, b))


# --------------------------------------------------------------------------------------
# all together


@single_threaded_blas()
def network_features(
    representation: np.ndarray,
    labels: np.ndarray,
    bandwidth: Bandwidth = "median",
    knn: int = DEFAULT_KNN,
    t: int = 1,
    max_points: int | None = DEFAULT_TDA_POINTS,
    return_diagrams: bool = False,
    distances: np.ndarray | None = None,
) -> dict[str, float] | tuple[dict[str, float], list[np.ndarray]]:
    """All features of one network as a flat dict of floats (JSON friendly names).

    Keys: ``class_separation``, ``class_silhouette`` (family 1), ``ward_top_share``,
    ``ward_label_agreement`` (2), ``spectral_entropy`` (3, diffusion time ``t``),
    ``h{0,1}_total_persistence`` (order 2), ``h{0,1}_max_persistence``,
    ``h{0,1}_persistence_entropy`` and ``h1_n_bars`` (4). The pairwise distances are
    computed once and shared (pass ``distances`` if you have them). With
    ``return_diagrams=True`` also returns the [H0, H1] diagrams (for
    :func:`diagram_distance`).
    """
    x = as_representation(representation)
    labels = _labels(labels, len(x))
    onehot = _one_hot(labels)
    d = pairwise_distances(x) if distances is None else np.asarray(distances, np.float64)
    out = {
        "class_separation": _class_separation(x, onehot),
        "class_silhouette": _class_silhouette(d, onehot),
    }
    out.update(_hierarchy(d, labels, None))
    out["spectral_entropy"] = _spectral_entropy(affinity(d, bandwidth=bandwidth, knn=knn), t)
    diagrams = persistence_diagrams(distances=d, maxdim=1, max_points=max_points)
    for dim, dgm in enumerate(diagrams):
        out[f"h{dim}_total_persistence"] = total_persistence(dgm)
        out[f"h{dim}_max_persistence"] = max_persistence(dgm)
        out[f"h{dim}_persistence_entropy"] = persistence_entropy(dgm)
    out["h1_n_bars"] = float(len(diagrams[1]))
    if return_diagrams:
        return out, diagrams
    return out
