"""A Gaussian-process surrogate whose metric over parameters is learned from networks.

Each finished trial is a trained network, and every *pair* of networks has a
distance on the network manifold. With k networks that is k(k-1)/2 numbers
telling which parameters move what a network computes and which do not --
far more than the k objective values a plain GP fits its length scales to.
:func:`fit_metric` turns those pairs into one non-negative weight per
parameter (non-negative least squares of the squared network distance on the
squared parameter differences); :class:`MetricGP` is an ordinary GP regressor
whose squared-exponential kernel uses that weighted metric, with only a global
length scale and the noise level chosen by marginal likelihood.
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import nnls
from scipy.special import ndtr

from manifold_search._params import ParamEncoder
from manifold_search.geometry import single_threaded_blas

LENGTH_SCALES = (0.15, 0.25, 0.4, 0.6, 1.0, 1.6, 2.5)
NOISES = (1e-4, 1e-2, 0.05, 0.2)


def first_definite(base: np.ndarray, levels, jitter: float = 0.0):
    """``(level, Cholesky factor)`` of ``base + (level + jitter) I`` for the first of
    ``levels`` (ascending noise) that is definite, or None: a kernel that is not quite
    positive definite (rounding, or a distance that is not Euclidean) gets more noise."""
    eye = np.eye(len(base))
    for level in levels:
        try:
            return level, cho_factor(base + (level + jitter) * eye, lower=True)
        except np.linalg.LinAlgError:
            continue
    return None


def fit_metric(deltas: np.ndarray, target: np.ndarray, max_pairs: int = 20000, seed: int = 0,
               shrinkage: float = 0.1) -> np.ndarray:  # fmt: skip
    """Per-column weights ``w >= 0`` with ``target_ij^2 ~ c + sum_p w_p delta_ijp^2``.

    ``deltas`` is ``(k, k, P)`` (per-parameter differences, see
    ``ParamEncoder.deltas``), ``target`` the ``k x k`` distance matrix to explain
    (network distances, or parameter distances in the ablation). Non-negative
    least squares with a ridge pull of strength ``shrinkage`` towards equal
    weights, so that few pairs or collinear columns do not zero a parameter out
    on a whim. Weights are rescaled to mean 1 over the columns that vary.
    """
    k, _, p = deltas.shape
    iu = np.triu_indices(k, 1)
    x = deltas[iu] ** 2
    y = np.asarray(target, dtype=float)[iu] ** 2
    if len(y) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(y), max_pairs, replace=False)
        x, y = x[pick], y[pick]
    varying = x.max(axis=0) > 0 if len(y) else np.zeros(p, dtype=bool)
    if len(y) < 3 or not np.any(varying):
        return np.ones(p)
    # scale columns so the ridge treats parameters alike, and the target to unit mean
    col_scale = np.sqrt((x**2).mean(axis=0))
    col_scale[col_scale == 0] = 1.0
    xs, ys = x / col_scale, y / (y.mean() or 1.0)
    # the ridge target: the equal-weight solution's scale (one free factor, least squares)
    ones = x @ np.ones(p)
    level = float(ones @ (y / (y.mean() or 1.0)) / (ones @ ones)) if ones.any() else 1.0
    prior = level * col_scale
    lam = shrinkage * len(ys)
    design = np.vstack([np.hstack([xs, np.ones((len(ys), 1))]),
                        np.hstack([np.sqrt(lam) * np.eye(p), np.zeros((p, 1))])])  # fmt: skip
    rhs = np.concatenate([ys, np.sqrt(lam) * prior])
    solution, _ = nnls(design, rhs)
    w = solution[:p] / col_scale
    if not np.any(w[varying] > 0):
        return np.ones(p)
    w = np.where(varying, w, 0.0)
    return w / w[varying].mean()


#: Above this many training points, :class:`MetricGP` picks its length scale and noise
#: on a value-stratified subset of this size (see :meth:`MetricGP.fit`).
SELECT_POINTS = 300


def stratified_subset(y: np.ndarray, m: int) -> np.ndarray:
    """``m`` row indices spread evenly over the rank order of ``y`` (deterministic).

    Keeps the best and the worst point and every ``len(y) / m``-th one between, so
    the subset has the same spread of objective values as the whole set.
    """
    order = np.argsort(np.asarray(y, dtype=float), kind="stable")
    return np.sort(order[np.unique(np.linspace(0, len(order) - 1, m).round().astype(int))])


class MetricGP:
    """GP regression with ``k(x, x') = exp(-sum_p w_p delta_p^2 / (2 l^2))``.

    ``y`` is standardised; the global length scale ``l`` and the noise are
    picked from small grids by the log marginal likelihood.

    Args:
        weights: one non-negative weight per column of ``deltas_fn``'s output.
        deltas_fn: ``(a, b) -> (len a, len b, P)`` per-parameter differences.
        select_points: hyperparameter selection works on at most this many points
            (``None``: always on all of them). The grid search costs one Cholesky
            factorisation per grid point (28), cubic in the number of points: 0.7 s
            at 1,000 trials and 6 s at 2,000 on one core, most of a proposal. With
            more points than this, the marginal likelihood is compared on
            :func:`stratified_subset` (every rank of the objective represented) and
            the posterior is then factorised once on *all* points with the chosen
            length scale and noise, so no trial is left out of the prediction. At
            or below it (the default 300 covers every study of the benchmarks) the
            fit is exactly the full grid search.
    """

    def __init__(self, weights: np.ndarray, deltas_fn, select_points: int | None = SELECT_POINTS
                 ) -> None:  # fmt: skip
        if select_points is not None and select_points < 10:
            raise ValueError(f"select_points must be at least 10 or None, got {select_points}")
        self.weights = np.asarray(weights, dtype=float)
        self.deltas_fn = deltas_fn  # (a, b) -> (len a, len b, P) per-parameter deltas
        self.select_points = select_points

    def _large(self, n: int) -> bool:
        """More than ``select_points`` points: the routes kept for large studies apply."""
        return self.select_points is not None and n > self.select_points

    def _sq(self, a: np.ndarray, b: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Weighted squared distances, ``len a x len b``, built in row blocks so the
        ``(len a, len b, P)`` per-parameter differences never exist all at once.

        Above ``select_points`` rows, :meth:`ParamEncoder.deltas` is summed column by
        column instead (:func:`squared_param_distances`, two matrix products, about 7x faster); the
        two differ only in rounding, and below the threshold the original route
        keeps proposals bit for bit what they were.
        """
        encoder = getattr(self.deltas_fn, "__self__", None)
        large = self._large(max(len(a), len(b)))
        if large and isinstance(encoder, ParamEncoder) and self.deltas_fn.__func__ is ParamEncoder.deltas:
            return squared_param_distances(encoder, a, b, self.weights)
        out = np.empty((len(a), len(b)))
        for start in range(0, len(a), chunk):
            out[start : start + chunk] = (self.deltas_fn(a[start : start + chunk], b) ** 2) @ self.weights
        return out

    @staticmethod
    def _grid(sq: np.ndarray, z: np.ndarray, noises=NOISES, lengths=LENGTH_SCALES):
        """The best (log likelihood, length, noise, factor, alpha) over the grids, or None."""
        best = None
        for length in lengths:
            base = np.exp(-sq / (2 * length**2))
            for noise in noises:
                try:
                    factor = cho_factor(base + (noise + 1e-8) * np.eye(len(z)), lower=True)
                except np.linalg.LinAlgError:
                    continue
                alpha = cho_solve(factor, z)
                logdet = 2 * np.log(np.diag(factor[0])).sum()
                ll = -0.5 * z @ alpha - 0.5 * logdet
                if best is None or ll > best[0]:
                    best = (ll, length, noise, factor, alpha)
        return best

    def fit(self, x: np.ndarray, y: np.ndarray) -> MetricGP:
        self.x = x
        self.mean, self.std = float(np.mean(y)), float(np.std(y)) or 1.0
        z = (np.asarray(y, dtype=float) - self.mean) / self.std
        sq = self._sq(x, x)
        if not self._large(len(z)):
            best = self._grid(sq, z)
        else:  # one BLAS thread: 2 threads made this 10x slower on a busy 2-core machine
            with single_threaded_blas():
                rows = stratified_subset(z, self.select_points)
                chosen = self._grid(sq[np.ix_(rows, rows)], z[rows])
                best = None if chosen is None else self._factor_all(sq, z, chosen[1], chosen[2])
        if best is None:
            raise np.linalg.LinAlgError("no length scale gave a positive-definite kernel")
        _, self.length, self.noise, self.factor, self.alpha = best
        return self

    @staticmethod
    def _factor_all(sq: np.ndarray, z: np.ndarray, length: float, noise: float):
        """One factorisation on all points; a larger noise if that one is not definite."""
        found = first_definite(np.exp(-sq / (2 * length**2)), [n for n in NOISES if n >= noise], 1e-8)
        if found is None:
            return None
        level, factor = found
        return None, length, level, factor, cho_solve(factor, z)

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The fitted kernel between two encoded sets (without noise)."""
        return np.exp(-self._sq(a, b) / (2 * self.length**2))

    def predict(self, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation, in the units of ``y``."""
        cross = np.exp(-self._sq(x_new, self.x) / (2 * self.length**2))
        mean = cross @ self.alpha
        with single_threaded_blas() if self._large(len(self.x)) else contextlib.nullcontext():
            v = cho_solve(self.factor, cross.T)
        var = np.clip(1.0 - np.einsum("ij,ji->i", cross, v), 1e-12, None)
        return self.mean + self.std * mean, self.std * np.sqrt(var)


def squared_param_distances(encoder: ParamEncoder, a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(encoder.deltas(a, b) ** 2) @ weights`` as two matrix products.

    Per parameter, with ``p`` the presence masks: an ordinal column adds
    ``w p_a p_b (x_a - x_b)^2 = w (p_a x_a^2) p_b + w p_a (p_b x_b^2) - 2 w (p_a x_a)(p_b x_b)``,
    a nominal one ``w p_a p_b - w sum_c [x_a = c][x_b = c]``; the structure column
    counts parameters present on one side only, ``m_a + m_b - 2 m_a m_b`` summed
    over parameters (``m`` the missing masks), and adds its weight where that count
    is positive. At 1,000 x 1,000 configurations of the MNIST-1D table space: 0.12 s
    against 0.87 s for the ``(k, k, P)`` differences (shared 2-core machine). Equal to
    the direct route up to rounding
    (about 1e-15; negatives from cancellation are clipped to zero).
    """
    missing_a, missing_b = np.isnan(a), np.isnan(b)
    cols_a: list[np.ndarray] = []
    cols_b: list[np.ndarray] = []
    for p, nominal in enumerate(encoder.nominal):
        w = float(weights[p])
        pa, pb = (~missing_a[:, p]).astype(float), (~missing_b[:, p]).astype(float)
        xa, xb = np.where(pa > 0, a[:, p], 0.0), np.where(pb > 0, b[:, p], 0.0)
        if w == 0.0:
            continue
        if nominal:
            cols_a.append(w * pa)
            cols_b.append(pb)
            for value in np.unique(np.concatenate([xa[pa > 0], xb[pb > 0]])):
                cols_a.append(-w * pa * (xa == value))
                cols_b.append(pb * (xb == value))
        else:
            cols_a += [w * pa * xa * xa, w * pa, -2.0 * w * pa * xa]
            cols_b += [pb, pb * xb * xb, pb * xb]
    out = np.zeros((len(a), len(b)))
    if cols_a:
        out += np.column_stack(cols_a) @ np.column_stack(cols_b).T
        np.maximum(out, 0.0, out=out)
    ma, mb = missing_a.astype(float), missing_b.astype(float)
    one_sided = ma.sum(axis=1)[:, None] + mb.sum(axis=1)[None, :] - 2.0 * (ma @ mb.T)
    out += float(weights[-1]) * (one_sided > 0.5)
    return out


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI for maximisation."""
    z = (mean - best) / std
    return (mean - best) * ndtr(z) + std * np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi)
