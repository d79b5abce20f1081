"""Diffusion operators of network representations and the distances between networks.

A network is compared to another through *how it arranges the probe points*, not
through its weights: from its ``n x d`` representation on the probe set we build an
``n x n`` diffusion operator (a Markov matrix over probe points) and two networks are
as far apart as their operators, ``||P_i - P_j||_F`` (Abel et al., arXiv 2411.12626).
Because the operator only sees pairwise distances between probe points, it is blind
to permutations and rotations of hidden units and to the width ``d``.

The Gaussian bandwidth decides what "near" means. The paper's fixed ``sigma = 0.5``
makes the operator depend on the scale of the activations (a network whose
activations are ten times larger looks like another network), so the default here is
scale-free: ``sigma`` is the median of the nonzero pairwise distances of the
representation itself. Measured during development on 320 small MNIST-1D networks
(random MLPs and CNNs, 2-10 epochs, penultimate layer on 256 test probes): predicting
each network's validation accuracy from its 5 nearest networks (leave-one-out), the
median bandwidth reached Spearman 0.851 (MAE 0.054), the k-NN adaptive bandwidth
("knn", k = 5, 10, 20) 0.846 / 0.847 / 0.844, and the paper's fixed sigma = 0.5 only
0.541 (MAE 0.106). Median and k-NN tie; the median is kept as the simpler one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

from manifold_search._clamp import clamp_option

#: The paper's fixed Gaussian bandwidth, reachable with ``bandwidth="fixed"``.
FIXED_SIGMA = 0.5
#: Neighbour rank used by the adaptive ``bandwidth="knn"`` kernel.
DEFAULT_KNN = 5

Bandwidth = Literal["median", "knn", "fixed"] | float


_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter: Any = None
_blas_controller: Any = None
_blas_controller_modules = 0  # len(sys.modules) when the controller was made


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS/LAPACK single-threaded inside the block (also usable as a decorator).

    Per-network work is small linear algebra (256 x 256 products and eigenvalues) and
    the Gram matrix of operators is a short, fat, memory-bound product: a second BLAS
    thread only adds synchronisation. On a busy 2-core machine (load average 7) the
    operators, distances and features of 60 networks took 7.2 s with two BLAS threads
    and 0.8 s with one. The limit is process-wide while any such block runs (numpy elsewhere
    then also runs single-threaded) and is restored when the last block exits;
    nested and concurrent blocks are counted, so they cannot leave it stuck.
    """
    global _blas_depth, _blas_limiter, _blas_controller, _blas_controller_modules
    with _blas_lock:
        if _blas_depth == 0:
            try:
                from threadpoolctl import ThreadpoolController

                # Scanning the loaded libraries costs ~20 ms, so the controller is kept, and
                # made again only when modules were imported since (numpy and scipy load
                # separate OpenBLAS builds; one loaded later would stay unlimited).
                if _blas_controller is None or _blas_controller_modules != len(sys.modules):
                    _blas_controller = ThreadpoolController()
                    _blas_controller_modules = len(sys.modules)
                _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
            except Exception:  # threadpoolctl missing or unusable: run as is
                _blas_limiter = None
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def as_representation(representation: np.ndarray, name: str = "representation") -> np.ndarray:
    """Validate an ``n x d`` representation and return it as a float64 array.

    Raises a one-line ``ValueError`` for shapes or values no operator can be built from.
    """
    array = np.asarray(representation)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be an n x d matrix (probe points x hidden units), got shape "
            f"{array.shape}; flatten spatial axes with x.reshape(len(x), -1)"
        )
    if array.shape[0] < 2:
        raise ValueError(
            f"{name} has {array.shape[0]} probe point(s); a probe set needs at least 2"
        )
    if array.shape[1] == 0:
        raise ValueError(f"{name} has zero hidden units (shape {array.shape})")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains NaN or inf (the network probably diverged); skip this network "
            "or record it after fixing training"
        )
    return array


#: Magnitudes outside this range are rescaled before squaring (their squares would
#: overflow to inf or underflow to 0); inside it the arithmetic is the plain one.
_SAFE_RANGE = (1e-100, 1e100)


def _outside_safe_range(value: float) -> bool:
    return value != 0.0 and not (_SAFE_RANGE[0] <= value <= _SAFE_RANGE[1])


def _squared(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=0)
    norms = np.einsum("ij,ij->i", x, x)
    d2 = norms[:, None] + norms[None, :] - 2.0 * (x @ x.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def _scale_of(x: np.ndarray) -> float:
    """1.0, or the largest magnitude of ``x`` when squaring it would overflow or underflow."""
    top = float(np.max(np.abs(x)))
    return top if _outside_safe_range(top) else 1.0


def squared_distances(representation: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``representation`` (n x n, float64).

    Uses ``|x|^2 + |y|^2 - 2<x, y>`` (one matrix product) on rows centred first, which
    keeps the cancellation error small; negatives from rounding are clipped to zero.
    Values beyond 1e100 in magnitude are rescaled first, so the result overflows only
    when the squared distances themselves exceed float64 (use
    :func:`pairwise_distances` for those).
    """
    x = as_representation(representation)
    scale = _scale_of(x)
    if scale == 1.0:
        return _squared(x)
    with np.errstate(over="ignore"):  # documented: beyond float64 the square is inf
        return _squared(x / scale) * (scale * scale)


def pairwise_distances(representation: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``representation`` (n x n, float64).

    Finite for every finite input whose distances fit in float64 (rows within about
    1e308 of each other); beyond that a one-line ``ValueError``.
    """
    x = as_representation(representation)
    scale = _scale_of(x)
    if scale == 1.0:
        return np.sqrt(_squared(x))
    with np.errstate(over="ignore"):  # checked just below
        d = np.sqrt(_squared(x / scale)) * scale
    if not np.all(np.isfinite(d)):
        raise ValueError(
            f"representation values up to {scale:.3g} in magnitude put probe points "
            "further apart than float64 can hold; the network diverged, skip it"
        )
    return d


def median_distance(distances: np.ndarray) -> float:
    """Median of the nonzero off-diagonal entries of a distance matrix (0.0 if none).

    Zeros are left out so that duplicated probe points do not shrink the bandwidth.
    """
    upper = distances[np.triu_indices(len(distances), k=1)]
    upper = upper[upper > 0]
    return float(np.median(upper)) if upper.size else 0.0


def _ratio_kernel(d: np.ndarray, sigma_a: Any, sigma_b: Any) -> np.ndarray:
    """``exp(-d^2 / (2 sigma_a sigma_b))`` dividing before multiplying: no overflow to NaN
    (a ratio beyond float64 is inf and its kernel value exactly 0)."""
    with np.errstate(over="ignore"):
        return np.exp(-0.5 * (d / sigma_a) * (d / sigma_b))


def affinity(
    distances: np.ndarray,
    bandwidth: Bandwidth = "median",
    knn: int = DEFAULT_KNN,
) -> np.ndarray:
    """Gaussian affinity ``W = exp(-D^2 / (2 sigma^2))`` from a distance matrix.

    ``bandwidth``:

    * ``"median"`` (default, scale-free): ``sigma`` = median nonzero pairwise distance.
    * ``"knn"`` (scale-free, adaptive as in PHATE / self-tuning spectral clustering):
      ``sigma_i`` = distance from point ``i`` to its ``knn``-th nearest neighbour and
      ``W_ij = exp(-D_ij^2 / (2 sigma_i sigma_j))`` (symmetric).
    * ``"fixed"``: the paper's ``sigma = 0.5`` (scale dependent).
    * a positive float: that fixed ``sigma``.

    A representation whose points all coincide gets ``W = 1`` everywhere (a uniform walk).
    """
    d = np.asarray(distances, dtype=np.float64)
    # extreme magnitudes (d or sigma beyond 1e100 or below 1e-100): divide before squaring
    extreme = d.size > 0 and _outside_safe_range(float(d.max()))
    d2 = None if extreme else d * d
    if isinstance(bandwidth, str):
        if bandwidth == "median":
            sigma = median_distance(d)
            if sigma == 0.0:
                return np.ones_like(d)
            if extreme or _outside_safe_range(sigma):
                return _ratio_kernel(d, sigma, sigma)
            return np.exp(d2 / (-2.0 * sigma * sigma))
        if bandwidth == "knn":
            if knn < 1:
                raise ValueError(f"knn must be at least 1, got {knn}")
            n = len(d)
            k = int(clamp_option("knn", int(knn), 1, max(n - 1, 1), f"with {n} probe points"))
            sigmas = np.partition(d, k, axis=1)[:, k]  # column 0 holds the self-distance 0
            positive = sigmas[sigmas > 0]
            if positive.size == 0:
                return np.ones_like(d)
            # a point with k duplicates borrows the smallest positive scale
            sigmas = np.where(sigmas > 0, sigmas, positive.min())
            if extreme or _outside_safe_range(float(sigmas.max())) or _outside_safe_range(
                    float(sigmas.min())):  # fmt: skip
                return _ratio_kernel(d, sigmas[:, None], sigmas[None, :])
            return np.exp(d2 / (-2.0 * np.outer(sigmas, sigmas)))
        if bandwidth == "fixed":
            bandwidth = FIXED_SIGMA
        else:
            raise ValueError(
                f"unknown bandwidth {bandwidth!r}; use 'median' (default), 'knn', 'fixed' "
                "or a positive number"
            )
    sigma = float(bandwidth)
    if not (sigma > 0 and np.isfinite(sigma)):
        raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth!r}")
    if extreme or _outside_safe_range(sigma):
        return _ratio_kernel(d, sigma, sigma)
    return np.exp(d2 / (-2.0 * sigma * sigma))


@single_threaded_blas()
def diffusion_operator(
    representation: np.ndarray,
    bandwidth: Bandwidth = "median",
    knn: int = DEFAULT_KNN,
    dtype: type | np.dtype = np.float32,
) -> np.ndarray:
    """Row-stochastic diffusion operator ``P = diag(W 1)^-1 W`` of an ``n x d`` representation.

    Distances and the kernel are computed in float64; the result is cast to ``dtype``
    (float32 by default: 256 x 256 probes take 256 KiB per network, and distances
    between operators are accumulated in float64 anyway). Every row sums to one.
    """
    return operator_from_distances(pairwise_distances(representation), bandwidth, knn, dtype)


def operator_from_distances(
    distances: np.ndarray,
    bandwidth: Bandwidth = "median",
    knn: int = DEFAULT_KNN,
    dtype: type | np.dtype = np.float32,
) -> np.ndarray:
    """:func:`diffusion_operator` from an ``n x n`` distance matrix already at hand."""
    w = affinity(distances, bandwidth=bandwidth, knn=knn)
    w /= w.sum(axis=1, keepdims=True)  # the self-loop W_ii = 1 keeps every row sum >= 1
    return w.astype(dtype, copy=False)


def _flat(operator: np.ndarray) -> np.ndarray:
    return np.asarray(operator).reshape(-1)


def network_distance(operator_a: np.ndarray, operator_b: np.ndarray) -> float:
    """Distance between two networks: ``||P_a - P_b||_F`` (float64 accumulation).

    Takes two diffusion operators (square, rows summing to 1; see :func:`diffusion_operator`),
    not representations.
    """
    a, b = np.asarray(operator_a), np.asarray(operator_b)
    for which, op in (("first", a), ("second", b)):
        if op.ndim != 2 or op.shape[0] != op.shape[1] or not np.allclose(op.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(
                f"network_distance takes diffusion operators, but its {which} argument (shape "
                f"{op.shape}) is not one (square, rows summing to 1); pass "
                "diffusion_operator(representation) for each network"
            )
    if a.shape != b.shape:
        raise ValueError(
            f"operators of shape {a.shape} and {b.shape} cannot be compared; record both "
            "networks on the same probe set"
        )
    diff = a.astype(np.float64).reshape(-1) - b.astype(np.float64).reshape(-1)
    return float(np.sqrt(diff @ diff))


@single_threaded_blas()
def distances_to(operator: np.ndarray, operators: np.ndarray, chunk: int = 32) -> np.ndarray:
    """``||P - P_j||_F`` for one operator against a stack ``operators`` (k x n x n or k x n^2).

    Direct differences (not the Gram trick), so near-identical networks get distances
    accurate relative to themselves; chunked to bound temporary memory.
    """
    p = _flat(operator).astype(np.float64)
    stack = np.asarray(operators).reshape(len(operators), -1)
    if stack.shape[1:] != p.shape:
        raise ValueError(
            f"operator has {p.size} entries but the stack holds operators of {stack.shape[1]}; "
            "all networks must be recorded on the same probe set"
        )
    out = np.empty(len(stack), dtype=np.float64)
    if len(stack) > FLOAT64_DIFFERENCES_UP_TO and stack.dtype == np.float32:
        # Differences in float32, squares summed in float64: 3x faster at 1,000 operators
        # (the float64 copy of the stack was most of the pass) and within 1e-9 relative of
        # the float64 route; smaller studies keep that route, so their proposals stay bit
        # for bit what they were.
        p32 = p.astype(np.float32)
        for start in range(0, len(stack), chunk):
            block = stack[start : start + chunk] - p32
            out[start : start + chunk] = np.sqrt(
                np.einsum("ij,ij->i", block, block, dtype=np.float64))
        return out
    for start in range(0, len(stack), chunk):
        block = stack[start : start + chunk].astype(np.float64) - p
        out[start : start + chunk] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return out


#: Above this many held operators, :func:`distances_to` subtracts in float32.
FLOAT64_DIFFERENCES_UP_TO = 300


def _gram(a: np.ndarray, b: np.ndarray, chunk: int, symmetric: bool = False) -> np.ndarray:
    """``a @ b.T`` in float64 for float32 stacks, converted block by block.

    ``a`` is converted in blocks of at most 64 MiB, ``b`` in blocks of ``chunk`` rows
    inside that loop, so the temporary float64 copies stay bounded (converting all of
    ``b`` at once took 512 MiB for 1,000 operators of 256 x 256). With ``symmetric``
    (``a is b``) only the blocks on and above the diagonal are computed and mirrored.
    """
    out = np.empty((len(a), len(b)), dtype=np.float64)
    rows = max(chunk, (64 << 20) // max(1, 8 * a.shape[1]))
    for si in range(0, len(a), rows):
        block = a[si : si + rows].astype(np.float64)
        for sj in range(si if symmetric else 0, len(b), chunk):
            other = block[sj - si : sj - si + chunk] if symmetric and sj < si + len(block) else None
            other = b[sj : sj + chunk].astype(np.float64) if other is None else other
            out[si : si + len(block), sj : sj + len(other)] = block @ other.T
            if symmetric:
                rows_i, cols_j = slice(si, si + len(block)), slice(sj, sj + len(other))
                out[cols_j, rows_i] = out[rows_i, cols_j].T
    return out


def _squared_norms(a: np.ndarray, chunk: int) -> np.ndarray:
    out = np.empty(len(a), dtype=np.float64)
    for s in range(0, len(a), chunk):
        block = a[s : s + chunk].astype(np.float64)
        out[s : s + chunk] = np.einsum("ij,ij->i", block, block)
    return out


@single_threaded_blas()
def cross_network_distances(
    operators_a: np.ndarray, operators_b: np.ndarray, chunk: int = 64
) -> np.ndarray:
    """Network distances between two stacks of operators (len(a) x len(b), float64).

    Uses ``||P_i - P_j||^2 = |P_i|^2 + |P_j|^2 - 2 <P_i, P_j>``: a Gram matrix of the
    flattened operators, built block by block in float64 so BLAS does the work (an
    all-pairs loop of differences would make k^2/2 passes over n^2 entries). Absolute
    error about 1e-8, which is far below the distances between distinct networks.
    """
    a = np.asarray(operators_a)
    b = np.asarray(operators_b)
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"operators with {a.shape[1]} and {b.shape[1]} entries cannot be compared; "
            "record all networks on the same probe set"
        )
    d2 = _squared_norms(a, chunk)[:, None] + _squared_norms(b, chunk)[None, :]
    d2 -= 2.0 * _gram(a, b, chunk, symmetric=operators_a is operators_b)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2)


@single_threaded_blas()
def network_distances(operators: Sequence[np.ndarray] | np.ndarray, chunk: int = 64) -> np.ndarray:
    """All pairwise network distances of a stack of operators (k x k, float64).

    The Gram-matrix route of :func:`cross_network_distances` with ``a = b``; the result
    is made exactly symmetric with a zero diagonal.
    """
    stack = np.asarray(operators)
    stack = stack.reshape(len(stack), -1)
    d = cross_network_distances(stack, stack, chunk)
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0.0)
    return d
