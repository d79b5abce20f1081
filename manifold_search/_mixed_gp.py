"""A GP kernel that mixes parameter distances with network distances (issue 14, item 3).

Why: :class:`~manifold_search._surrogate.MetricGP` correlates two configurations by
how far apart their *parameters* are. Two configurations far apart in parameters can
still train networks that compute nearly the same thing (and score alike); the
network manifold knows this for every pair of trained networks. This kernel adds
that knowledge, with a weight the data choose:

``k(a, b) = exp(-(d_params(a, b)^2 + beta * s * d_net(a, b)^2) / (2 l^2))``

- **Network positions.** A network distance is ``||P_i - P_j||_F``, the Euclidean
  distance between vectorised diffusion operators, so the trained networks are
  points of a Euclidean space. A configuration without a trained network (a
  candidate, a running trial, a trial that recorded none) is placed at the
  inverse-squared-parameter-distance weighted mean of its ``NEIGHBOURS`` nearest
  trained networks (a finished trial with a network sits exactly on its own
  network). Distances between such convex combinations follow exactly from the
  network distance matrix ``D2`` (squared):
  ``||sum a_k P_k - sum b_l P_l||^2 = a D2 b - a D2 a / 2 - b D2 b / 2``,
  so no lossy embedding (PHATE) is needed and the kernel, a product of two
  Gaussian kernels on Euclidean points, stays positive definite.
- **Scale.** ``s`` makes the median squared network distance among the trained
  networks equal to the median squared parameter distance among them.
- **Weight.** ``beta`` is chosen from :data:`BETAS` (0 included) together with the
  length scale and noise by the log marginal likelihood. ``beta = 0`` is exactly
  ``MetricGP``: where network positions do not explain the objective, nothing
  changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
from scipy.sparse import csr_matrix

from manifold_search._surrogate import NOISES, SELECT_POINTS, MetricGP, stratified_subset
from manifold_search.geometry import single_threaded_blas

#: Weights of the network term tried by the marginal likelihood (0: parameters only).
BETAS = (0.0, 0.25, 1.0, 4.0)
#: Trained networks whose positions place a configuration without one.
NEIGHBOURS = 5

Positions = tuple[np.ndarray, np.ndarray]  # (rows into the trained networks, convex weights), n x k


class NetworkPositions:
    """Configurations as convex combinations of trained networks.

    Args:
        param_sq: ``(a, b) -> len a x len b`` squared parameter distances.
        net_x: encoded configurations of the trained networks (``m`` rows).
        net_d: their ``m x m`` network distances.
    """

    def __init__(self, param_sq: Callable[[np.ndarray, np.ndarray], np.ndarray], net_x: np.ndarray,
                 net_d: np.ndarray) -> None:  # fmt: skip
        if len(net_x) < 2 or net_d.shape != (len(net_x), len(net_x)):
            raise ValueError(f"need at least 2 trained networks and an m x m distance matrix, "
                             f"got {len(net_x)} and {net_d.shape}")  # fmt: skip
        self.param_sq = param_sq
        self.net_x = net_x
        self.d2 = np.asarray(net_d, dtype=float) ** 2

    def scale(self, at_most: int = SELECT_POINTS) -> float:
        """``s``: median squared parameter distance over median squared network distance
        among the trained networks (1 where either is 0); among ``at_most`` of them spread
        evenly over the list when there are more (a median needs no more)."""
        rows = np.unique(np.linspace(0, len(self.net_x) - 1, min(at_most, len(self.net_x))).round().astype(int))
        iu = np.triu_indices(len(rows), 1)
        params = float(np.median(self.param_sq(self.net_x[rows], self.net_x[rows])[iu]))
        nets = float(np.median(self.d2[np.ix_(rows, rows)][iu]))
        return params / nets if params > 0 and nets > 0 else 1.0

    def place(self, x: np.ndarray) -> Positions:
        """Each row's ``NEIGHBOURS`` nearest trained networks and inverse-squared-distance
        weights (a row at distance 0 from trained networks sits on them)."""
        sq = np.maximum(self.param_sq(x, self.net_x), 0.0)
        k = min(NEIGHBOURS, sq.shape[1])
        rows = np.argpartition(sq, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(sq, rows, axis=1)
        exact = near <= 1e-12
        weights = np.where(exact.any(axis=1, keepdims=True), exact.astype(float),
                           1.0 / np.maximum(near, 1e-12))  # fmt: skip
        return rows, weights / weights.sum(axis=1, keepdims=True)

    def squared(self, a: Positions, b: Positions) -> np.ndarray:
        """Squared Euclidean distances between two sets of placed configurations:
        ``A D2 B^T - diag(A D2 A^T) / 2 - diag(B D2 B^T) / 2`` with ``A``, ``B`` the sparse
        (``NEIGHBOURS`` per row) weight matrices."""
        sparse_a, sparse_b = self._sparse(a), self._sparse(b)
        mixed_a, mixed_b = sparse_a @ self.d2, sparse_b @ self.d2  # dense, n x m
        cross = (sparse_b @ mixed_a.T).T
        self_a = np.asarray(sparse_a.multiply(mixed_a).sum(axis=1)).ravel()
        self_b = np.asarray(sparse_b.multiply(mixed_b).sum(axis=1)).ravel()
        return np.maximum(cross - 0.5 * self_a[:, None] - 0.5 * self_b[None, :], 0.0)

    def _sparse(self, placed: Positions) -> csr_matrix:
        rows, weights = placed
        n, k = rows.shape
        return csr_matrix((weights.ravel(), rows.ravel(), np.arange(0, n * k + 1, k)), shape=(n, len(self.d2)))


class MixedGP(MetricGP):
    """:class:`MetricGP` whose squared distance is ``d_params^2 + beta * s * d_net^2``.

    ``beta`` (attribute, after :meth:`fit`) is chosen from ``betas`` by the log
    marginal likelihood together with the length scale and noise; with
    ``beta = 0`` predictions are exactly ``MetricGP``'s. Above ``select_points``
    training points the choice is made on the same value-stratified subset as
    ``MetricGP``'s, and the posterior is factorised on all points.
    """

    def __init__(self, weights: np.ndarray, deltas_fn, net_x: np.ndarray, net_d: np.ndarray,
                 betas: tuple[float, ...] = BETAS, select_points: int | None = SELECT_POINTS
                 ) -> None:  # fmt: skip
        super().__init__(weights, deltas_fn, select_points)
        if not betas or min(betas) < 0:
            raise ValueError(f"betas must be non-empty and >= 0, got {betas!r}")
        self.betas = tuple(float(b) for b in betas)
        self.positions = NetworkPositions(super()._sq, net_x, net_d)
        self.net_scale = self.positions.scale()
        self.beta = 0.0
        self._placed: dict[int, tuple[np.ndarray, Positions]] = {}
        self._last_pair: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _place(self, x: np.ndarray) -> Positions:
        """Positions of ``x``, remembered for the training set and the last other set
        (``predict`` and ``kernel`` are called on the same candidates)."""
        hit = self._placed.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        placed = self.positions.place(x)
        if len(self._placed) > 1:
            self._placed = {k: v for k, v in self._placed.items() if v[0] is getattr(self, "x", None)}
        self._placed[id(x)] = (x, placed)
        return placed

    def network_sq(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scaled squared network distances ``s * d_net^2`` between predicted positions
        (the last pair is remembered: ``predict`` and ``kernel`` ask for the same one)."""
        last = self._last_pair
        if last is not None and last[0] is a and last[1] is b:
            return last[2]
        out = self.net_scale * self.positions.squared(self._place(a), self._place(b))
        self._last_pair = (a, b, out)
        return out

    def _sq(self, a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
        out = super()._sq(a, b, chunk)
        return out if self.beta == 0 else out + self.beta * self.network_sq(a, b)

    def fit(self, x: np.ndarray, y: np.ndarray) -> MixedGP:
        """Choose ``beta``, the length scale and the noise by the log marginal likelihood.

        At most ``select_points`` points: the full grid for every beta. Above (the large
        route), on the stratified subset, and for every beta after the first (0 by default)
        only the noise level that the first chose (7 factorisations per beta instead of
        28; a 1,000-trial proposal stays under a second), then every noise level at the
        chosen beta and length.
        """
        self.x = x
        self.mean, self.std = float(np.mean(y)), float(np.std(y)) or 1.0
        z = (np.asarray(y, dtype=float) - self.mean) / self.std
        self.beta = 0.0
        param_sq, net_sq = self._sq(x, x), self.network_sq(x, x)
        large = self._large(len(z))
        rows = stratified_subset(z, self.select_points) if large else np.arange(len(z))
        best, best_beta, noises = None, 0.0, NOISES
        with single_threaded_blas() if large else contextlib.nullcontext():
            for beta in self.betas:
                sq = param_sq if beta == 0 else param_sq + beta * net_sq
                chosen = self._grid(sq[np.ix_(rows, rows)] if large else sq, z[rows], noises)
                if large and chosen is not None and noises is NOISES:
                    noises = (chosen[2],)  # the first beta's noise for the others
                if chosen is not None and (best is None or chosen[0] > best[0]):
                    best, best_beta = chosen, beta
            if best is not None and large:
                sq = param_sq if best_beta == 0 else param_sq + best_beta * net_sq
                if best_beta != self.betas[0]:  # every noise level at the chosen beta and length
                    best = self._grid(sq[np.ix_(rows, rows)], z[rows], NOISES, (best[1],)) or best
                best = self._factor_all(sq, z, best[1], best[2])
        if best is None:
            raise np.linalg.LinAlgError("no length scale gave a positive-definite kernel")
        _, self.length, self.noise, self.factor, self.alpha = best
        self.beta = best_beta
        return self
