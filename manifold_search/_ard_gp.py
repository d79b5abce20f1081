"""A GP over parameters with one learned length scale per parameter (ARD), and log EI.

Why: with one length scale for all parameters (``MetricGP`` with uniform
weights) a parameter that does not matter blurs the model as much as one that
does; Optuna's GPSampler learns a length scale per parameter and beats the
uniform metric on tables where few parameters matter. This is the same idea,
written over :class:`~manifold_search._params.ParamEncoder` differences so it
handles nominal categoricals (0/1 difference) and conditional parameters (the
structure column) the way the rest of the sampler does.

Kernel: Matern 5/2 on ``r^2 = sum_p theta_p delta_p^2`` times a signal
variance, plus noise. Hyperparameters (``log theta_p``, ``log signal``,
``log noise``) maximise the log marginal likelihood plus weak priors (an
inverse-squared length scale prior ``-(a / theta + a * theta)`` that keeps
each ``theta`` away from 0 and infinity, gamma priors on signal and noise),
by L-BFGS-B with analytic gradients, from a few starts, or from the previous
fit's hyperparameters alone (``warm_start``, as Optuna's GPSampler does): one
proposal's optimum is a good start for the next, with one more trial, and a
single start costs a third of three. Above ``select_points`` points the
hyperparameters are chosen on a value-stratified subset (every rank of the
objective represented), and the posterior is then factorised on all points,
as :class:`~manifold_search._surrogate.MetricGP` does: each marginal-likelihood
evaluation is cubic in the points.

>>> import numpy as np
>>> from manifold_search._params import ParamEncoder
>>> from optuna.distributions import FloatDistribution
>>> enc = ParamEncoder({"a": FloatDistribution(0, 1), "b": FloatDistribution(0, 1)})
>>> x = enc.encode([{"a": a, "b": b} for a, b in np.random.default_rng(0).random((30, 2))])
>>> gp = ArdGP(enc.deltas).fit(x, np.sin(6 * x[:, 0]))
>>> bool(gp.theta[0] > gp.theta[1])  # only "a" matters
True
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from operator import mul

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr

from manifold_search._surrogate import SELECT_POINTS, first_definite, stratified_subset

_SQRT5 = np.sqrt(5.0)
_MIN_NOISE = 1e-6
_THETA_PRIOR = 0.1  # -(a / theta + a * theta): mode at theta = 1, i.e. length scale 1 in [0, 1] units


def _matern(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matern 5/2 of ``r = sqrt(r2)`` and its derivative with respect to ``r2``."""
    r = np.sqrt(np.maximum(r2, 0.0))
    e = np.exp(-_SQRT5 * r)
    value = (1.0 + _SQRT5 * r + 5.0 / 3.0 * r2) * e
    d_r2 = -5.0 / 6.0 * (1.0 + _SQRT5 * r) * e
    return value, d_r2


class ArdGP:
    """GP regression with per-column length scales over parameter differences.

    Args:
        deltas_fn: ``(a, b) -> (len a, len b, P)`` per-parameter differences
            (``ParamEncoder.deltas``).
        n_restarts: extra optimiser starts beyond the default one.
        max_iter: L-BFGS-B iterations per start.
        seed: seeds the restarts.
        warm_start: hyperparameters of an earlier fit (its :attr:`params`); when given
            and of the right length, the only start (no restarts).
        select_points: hyperparameters are chosen on at most this many points.
    """

    def __init__(self, deltas_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 n_restarts: int = 2, seed: int = 0, max_iter: int = 200,
                 warm_start: np.ndarray | None = None,
                 select_points: int = SELECT_POINTS) -> None:  # fmt: skip
        self.deltas_fn = deltas_fn
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.seed = seed
        self.warm_start = warm_start
        self.select_points = select_points

    # -- fitting -----------------------------------------------------------------
    def _neg_log_posterior(self, params: np.ndarray, d2: np.ndarray, z: np.ndarray):
        p = d2.shape[2]
        theta, signal = np.exp(params[:p]), np.exp(params[p])
        noise = _MIN_NOISE + np.exp(params[p + 1])
        r2 = d2 @ theta
        m, dm = _matern(r2)
        k = signal * m + noise * np.eye(len(z))
        try:
            factor = cho_factor(k, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(params)
        alpha = cho_solve(factor, z, check_finite=False)
        logdet = 2.0 * np.log(np.diag(factor[0])).sum()
        log_ml = -0.5 * z @ alpha - 0.5 * logdet
        prior = (-_THETA_PRIOR * (1.0 / theta + theta)).sum()
        prior += np.log(signal) - signal  # gamma(2, 1)
        prior += 0.1 * np.log(noise) - 30.0 * noise  # gamma(1.1, 30): little noise unless needed
        w = np.outer(alpha, alpha) - cho_solve(factor, np.eye(len(z)), check_finite=False)
        grad = np.empty_like(params)
        grad[:p] = 0.5 * signal * theta * np.einsum("ij,ijp->p", w * dm, d2)
        grad[:p] += _THETA_PRIOR * (1.0 / theta - theta)
        grad[p] = 0.5 * signal * np.sum(w * m) + 1.0 - signal
        noise_part = noise - _MIN_NOISE
        grad[p + 1] = 0.5 * noise_part * np.trace(w) + noise_part * (0.1 / noise - 30.0)
        return -(log_ml + prior), -grad

    def fit(self, x: np.ndarray, y: np.ndarray) -> ArdGP:
        """Fit to encoded configurations ``x`` and values ``y`` (standardised inside)."""
        self.x = x
        y = np.asarray(y, dtype=float)
        self.mean, self.std = float(np.mean(y)), float(np.std(y)) or 1.0
        z = (y - self.mean) / self.std
        d2 = self.deltas_fn(x, x) ** 2
        p = d2.shape[2]
        rows = np.arange(len(z)) if len(z) <= self.select_points else stratified_subset(z, self.select_points)
        d2_fit, z_fit = d2[np.ix_(rows, rows)], z[rows]
        if self.warm_start is not None and len(self.warm_start) == p + 2:
            starts = [np.asarray(self.warm_start, dtype=float)]
        else:
            rng = np.random.default_rng(self.seed)
            starts = [np.concatenate([np.zeros(p), [0.0, np.log(1e-2)]])]
            for _ in range(self.n_restarts):
                starts.append(np.concatenate([rng.normal(0, 1.5, p), [0.0, np.log(1e-2)]]))
        best = None
        for start in starts:
            result = minimize(self._neg_log_posterior, start, args=(d2_fit, z_fit), jac=True,
                              method="L-BFGS-B", bounds=[(-8, 8)] * p + [(-5, 3), (-14, 1)],
                              options={"maxiter": self.max_iter})  # fmt: skip
            if best is None or result.fun < best.fun:
                best = result
        params = best.x
        self.params = params
        self.theta = np.exp(params[:p])
        self.signal = float(np.exp(params[p]))
        self.noise = float(_MIN_NOISE + np.exp(params[p + 1]))
        # the noise raised tenfold while the kernel on all points is not definite:
        # conditional parameters (the structure column) make ``r`` a distance that is
        # not Euclidean, so a fit chosen on a subset, or a study's many duplicate
        # configurations, can give an indefinite Matern kernel
        found = first_definite(self._k(d2), accumulate([self.noise] + [10.0] * 11, mul))
        if found is None:
            raise np.linalg.LinAlgError("no noise level gave a positive-definite ARD kernel")
        self.noise, self.factor = found
        self.alpha = cho_solve(self.factor, z)
        return self

    # -- prediction ----------------------------------------------------------------
    def _k(self, d2: np.ndarray) -> np.ndarray:
        return self.signal * _matern(d2 @ self.theta)[0]

    def kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The fitted correlation between two encoded sets (signal variance divided out)."""
        return self._k(self.deltas_fn(a, b) ** 2) / self.signal

    def predict(self, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation, in the units of ``y``."""
        cross = self._k(self.deltas_fn(x_new, self.x) ** 2)
        mean = cross @ self.alpha
        v = cho_solve(self.factor, cross.T)
        var = np.clip(self.signal - np.einsum("ij,ji->i", cross, v), 1e-12, None)
        return self.mean + self.std * mean, self.std * np.sqrt(var)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """log EI for maximisation, accurate where EI underflows (far below the incumbent).

    ``EI = std * h(z)`` with ``h(z) = z Phi(z) + phi(z)``; for very negative ``z``
    ``h(z) = phi(z) (1 - |z| erfcx(|z| / sqrt 2) sqrt(pi / 2))`` avoids the
    cancellation.
    """
    z = (np.asarray(mean) - best) / np.asarray(std)
    out = np.empty_like(z, dtype=float)
    safe = z > -6
    zs = z[safe]
    h = zs * np.exp(log_ndtr(zs)) + np.exp(-0.5 * zs**2) / np.sqrt(2 * np.pi)
    out[safe] = np.log(np.maximum(h, 1e-300))
    zt = -z[~safe]
    log_phi = -0.5 * zt**2 - 0.5 * np.log(2 * np.pi)
    out[~safe] = log_phi + np.log1p(-zt * erfcx(zt / np.sqrt(2)) * np.sqrt(np.pi / 2))
    return out + np.log(np.asarray(std))
