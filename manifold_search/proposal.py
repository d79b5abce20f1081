"""Region scoring and candidate generation: from good networks to untried configurations.

Anchors are the finished trials that sit in dense, high-performing regions of
the network manifold: among the top trials, each is weighted by how many other
top networks lie close to it (a Gaussian kernel over network distances, the
bandwidth being the median distance among the top networks). Candidates are
drawn around anchors -- one or two parameters changed, numeric ones by a step
scaled to the spread of the top region in that parameter -- plus uniform
random configurations for exploration. Conditional (define-by-run) structure
is respected by borrowing the set of active parameters from a finished trial
that already took the new value ("donor").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution

from manifold_search._params import from_position, is_ordinal, position

Config = dict[str, Any]


@dataclass(frozen=True)
class Proposal:
    """What the sampler proposes for one trial, and why.

    Stored (by :meth:`as_attr`) as the trial's ``manifold_search:proposal`` user
    attribute, which optuna-dashboard shows beside the trial.
    """

    params: Config
    anchors: list[int]  # trial numbers of the (up to 3) best anchors
    region_score: float | None  # of the first anchor
    predicted_value: float  # the GP's mean, in the study's direction
    predicted_std: float
    metric_weights: dict[str, float]  # the GP's weight per parameter (and "(structure)")
    distance: Literal["network", "params"]  # what the region scores were measured with
    network_beta: float | None = None  # kernel="mixed": the network term's weight (None: not used)
    surrogate: Literal["uniform", "ard"] = "uniform"  # the GP that chose (surrogate="auto" picks one)

    def as_attr(self) -> dict[str, Any]:
        """The JSON user attribute (everything but the parameters, which the trial has)."""
        attr = {
            "anchors": self.anchors,
            "region_score": self.region_score,
            "predicted_value": self.predicted_value,
            "predicted_std": self.predicted_std,
            "metric_weights": self.metric_weights,
            "distance": self.distance,
            "surrogate": self.surrogate,
        }
        if self.network_beta is not None:
            attr["network_beta"] = self.network_beta
        return attr


def region_scores(distances: np.ndarray, values: np.ndarray, top_fraction: float = 0.25,
                  min_top: int = 3) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Score each trial by the density of top trials around it.

    ``distances`` is k x k between trials (network distances, or parameter
    distances in the fallback), ``values`` their objective (higher is better).
    Returns ``(score, top_mask)``: ``score_i = mean_{j in top} exp(-d_ij^2 / h^2)``
    with ``h`` the median distance among top trials.
    """
    k = len(values)
    n_top = min(k, max(min_top, int(np.ceil(top_fraction * k))))
    top = np.argsort(-values, kind="stable")[:n_top]
    mask = np.zeros(k, dtype=bool)
    mask[top] = True
    sub = distances[np.ix_(top, top)]
    off = sub[~np.eye(len(top), dtype=bool)]
    h = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
    score = np.exp(-(distances[:, top] ** 2) / h**2).mean(axis=1)
    return score, mask


def choose_anchors(scores: np.ndarray, top_mask: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` top trials ranked by region score times their rank among the top."""
    top = np.flatnonzero(top_mask)
    ranks = np.argsort(np.argsort(-values[top], kind="stable"))
    weight = scores[top] * (1.0 - ranks / (len(top) + 1.0))
    return top[np.argsort(-weight, kind="stable")[:n]]


class CandidateGenerator:
    """Mutations of anchors and random configurations over the union of seen parameters."""

    def __init__(self, distributions: Mapping[str, BaseDistribution], configs: list[Config],
                 rng: np.random.Generator) -> None:  # fmt: skip
        self.distributions = dict(distributions)
        self.configs = configs
        self.rng = rng
        self.templates = sorted({tuple(sorted(c)) for c in configs})
        # (name, value) -> distinct key tuples of the configs holding it, first seen first:
        # the donor lookup scanned every config per call (about 1,000 calls per proposal)
        self._donors: dict[tuple[str, Any], list[tuple[str, ...]]] = {}
        for c in configs:
            keys = tuple(c)
            for name, value in c.items():
                sets = self._donors.setdefault((name, value), [])
                if keys not in sets:
                    sets.append(keys)

    def spread(self, rows: list[Config]) -> dict[str, float]:
        """Per-parameter spread (std of positions) of a region, clipped to [0.05, 0.3]."""
        out = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution) and not is_ordinal(dist):
                continue
            pos = [position(dist, c[name]) for c in rows if name in c]
            out[name] = float(np.clip(np.std(pos) if len(pos) > 1 else 0.15, 0.05, 0.3))
        return out

    def _donor_keys(self, name: str, value: Any, base: Config) -> tuple[str, ...]:
        donors = self._donors.get((name, value), [])
        if not donors:
            return tuple(base)
        overlap = [len(set(d) & set(base)) for d in donors]
        return donors[int(np.argmax(overlap))]

    def _mutate_value(self, name: str, value: Any, spread: dict[str, float]) -> Any:
        dist = self.distributions[name]
        if isinstance(dist, CategoricalDistribution):
            choices = list(dist.choices)
            if is_ordinal(dist):  # step to a neighbouring choice (sorted order)
                order = sorted(choices)
                i = order.index(value) if value in order else 0
                j = int(np.clip(i + self.rng.choice([-2, -1, 1, 2], p=[0.15, 0.35, 0.35, 0.15]),
                                0, len(order) - 1))  # fmt: skip
                return order[j] if j != i else order[(i + 1) % len(order)]
            others = [c for c in choices if c != value]
            return others[self.rng.integers(len(others))] if others else value
        pos = position(dist, value)
        for _ in range(8):
            new = from_position(dist, pos + self.rng.normal(0.0, spread.get(name, 0.15)))
            if new != value:
                return new
        return from_position(dist, self.rng.uniform())

    def random_value(self, name: str) -> Any:
        dist = self.distributions[name]
        if isinstance(dist, CategoricalDistribution):
            return dist.choices[self.rng.integers(len(dist.choices))]
        return from_position(dist, self.rng.uniform())

    def mutate(self, base: Config, n_changes: int, spread: dict[str, float]) -> Config:
        names = [n for n in base if n in self.distributions]
        if not names:
            return dict(base)
        changed = self.rng.choice(names, size=min(n_changes, len(names)), replace=False)
        config = dict(base)
        for name in changed:
            if name not in config:  # dropped by an earlier structural change
                continue
            value = self._mutate_value(name, config[name], spread)
            keys = self._donor_keys(name, value, config)
            if set(keys) != set(config):  # a structural parameter: adopt the donor's active set
                donor = next(c for c in self.configs if set(c) == set(keys))
                config = {k: config.get(k, donor[k]) for k in keys}
            config[name] = value
        return config

    def random(self) -> Config:
        keys = self.templates[self.rng.integers(len(self.templates))]
        config = {k: self.random_value(k) for k in keys if k in self.distributions}
        # keep the structure consistent: structural choices decide the template
        for name in list(config):
            if name not in config:
                continue
            dist = self.distributions[name]
            if isinstance(dist, CategoricalDistribution):
                donor_keys = self._donor_keys(name, config[name], config)
                if set(donor_keys) != set(config):
                    config = {k: config[k] if k in config else self.random_value(k)
                              for k in donor_keys if k in self.distributions}  # fmt: skip
        return config

    def generate(self, anchors: list[Config], region: list[Config], n_random: int,
                 per_anchor: int) -> list[Config]:  # fmt: skip
        spread = self.spread(region)
        out: list[Config] = []
        for anchor in anchors:
            for i in range(per_anchor):
                out.append(self.mutate(anchor, 1 if i < per_anchor * 2 // 3 else 2, spread))
        out.extend(self.random() for _ in range(n_random))
        return out


def config_key(config: Mapping[str, Any]) -> tuple:
    """A hashable identity of a configuration (floats rounded to 12 significant digits)."""
    return tuple(sorted((k, float(f"{v:.12g}") if isinstance(v, float) else v) for k, v in config.items()))
