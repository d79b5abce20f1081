"""Acquisition for ``surrogate="ard"``: log EI raised by the region score, optimised by local search.

Why local search: scoring a fixed pool of mutations and random configurations
leaves the acquisition's optimum to chance once the GP has learned which
parameters matter; Optuna's GPSampler climbs from its best candidates, and so
does this. From the ``n_starts`` best candidates, each step moves to the best
neighbour -- adjacent values of an ordinal parameter, every other choice of a
nominal one, steps of several sizes (in [0, 1] position) of a numeric one --
while the acquisition improves. A configuration already tried or running is
never a neighbour. Structural choices (a categorical whose value changes the
set of active parameters) adopt the active set of a finished trial that took
the value, as :class:`~manifold_search.proposal.CandidateGenerator` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution

from manifold_search._ard_gp import ArdGP, log_expected_improvement
from manifold_search._history import History
from manifold_search._params import from_position, is_ordinal, position
from manifold_search.proposal import Config, config_key

STEPS = (0.01, 0.03, 0.1, 0.25)  # numeric moves, in [0, 1] position, both directions
MAX_MOVES = 10


def landing_scores(kernel: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The finished trials' region ``scores`` smoothed onto each candidate by the GP
    ``kernel`` (candidates x trials): where a candidate is predicted to land."""
    return (kernel @ scores) / np.maximum(kernel.sum(axis=1), 1e-12)


def region_log_acquisition(log_ei: np.ndarray, landing: np.ndarray, scores_max: float,
                           region_weight: float) -> np.ndarray:  # fmt: skip
    """``log(EI x (1 + region_weight x landing / max score))``: the uniform surrogate's
    acquisition in log space, so a candidate far below the incumbent still ranks."""
    return log_ei + np.log1p(region_weight * landing / max(scores_max, 1e-12))


def _value_moves(dist: BaseDistribution, value: Any) -> list[Any]:
    """The neighbouring values of one parameter (never ``value`` itself)."""
    if isinstance(dist, CategoricalDistribution):
        choices = list(dist.choices)
        if not is_ordinal(dist):
            return [c for c in choices if c != value]
        order = sorted(choices)
        i = order.index(value) if value in order else 0
        return [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
    pos = position(dist, value)
    out = []
    if isinstance(dist, IntDistribution):
        out += [v for v in (value - dist.step, value + dist.step) if dist.low <= v <= dist.high]
    for step in STEPS:
        for sign in (-1.0, 1.0):
            new = from_position(dist, pos + sign * step)
            if new != value and new not in out:
                out.append(new)
    return out


def neighbours(config: Config, distributions: Mapping[str, BaseDistribution],
               donors: list[Config]) -> list[Config]:  # fmt: skip
    """Every configuration one parameter away from ``config``."""
    out = []
    for name, value in config.items():
        dist = distributions.get(name)
        if dist is None:
            continue
        for new in _value_moves(dist, value):
            moved = dict(config)
            moved[name] = new
            if isinstance(dist, CategoricalDistribution):
                moved = _adopt_structure(moved, name, new, donors)
            out.append(moved)
    return out


def _adopt_structure(config: Config, name: str, value: Any, donors: list[Config]) -> Config:
    """If finished trials with ``name == value`` have another active set, take the closest one."""
    matches = [d for d in donors if name in d and d[name] == value]
    if not matches or any(set(d) == set(config) for d in matches):
        return config
    donor = max(matches, key=lambda d: len(set(d) & set(config)))
    return {k: config.get(k, donor[k]) for k in donor}


def local_search(candidates: list[Config], acquisition: np.ndarray,
                 score: Callable[[list[Config]], np.ndarray],
                 distributions: Mapping[str, BaseDistribution], donors: list[Config],
                 seen: set[tuple], n_starts: int = 3) -> tuple[Config, float]:  # fmt: skip
    """Greedy ascent of ``score`` from the ``n_starts`` best candidates; the best point found."""
    order = np.argsort(-acquisition, kind="stable")[:n_starts]
    best_config, best_value = candidates[int(order[0])], float(acquisition[order[0]])
    cache: dict[tuple, float] = {}
    for start in order:
        current, value = candidates[int(start)], float(acquisition[start])
        for _ in range(MAX_MOVES):
            moves = {}
            for c in neighbours(current, distributions, donors):
                key = config_key(c)
                if key not in seen:
                    moves.setdefault(key, c)
            fresh = [k for k in moves if k not in cache]
            if fresh:
                cache.update(zip(fresh, map(float, score([moves[k] for k in fresh])), strict=True))
            if not moves:
                break
            key = max(moves, key=cache.__getitem__)
            if not cache[key] > value:
                break
            current, value = moves[key], cache[key]
        if value > best_value:
            best_config, best_value = current, value
    return best_config, best_value


def climb(history: History, gp: ArdGP, scores: np.ndarray, region_weight: float,
          candidates: list[Config], rng: np.random.Generator,
          taken: set[tuple]) -> tuple[Config, float, float]:  # fmt: skip
    """Log EI x region lift over the candidates, then local search from the best few;
    the chosen configuration (never tried, running or ``taken``), its mean and std."""
    incumbent = float(history.values.max())

    def acquisition(configs: list[Config]) -> np.ndarray:
        x = history.encoder.encode(configs)
        mean, std = gp.predict(x)
        log_ei = log_expected_improvement(mean, std, incumbent)
        if not region_weight:  # no lift: skip the (candidates x trials) kernel
            return log_ei
        landing = landing_scores(gp.kernel(x, history.x), scores)
        return region_log_acquisition(log_ei, landing, float(scores.max()), region_weight)

    start = acquisition(candidates) + 1e-12 * rng.random(len(candidates))
    params, _ = local_search(candidates, start, acquisition, history.encoder.distributions,
                             history.configs, history.seen | taken)  # fmt: skip
    mean, std = gp.predict(history.encoder.encode([params]))
    return params, float(mean[0]), float(std[0])
