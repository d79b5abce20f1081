"""Parameters as points: per-parameter differences between configurations.

The sampler compares configurations parameter by parameter. Each parameter's
value is mapped to a position in [0, 1] -- log scale where the distribution is
log, the rank of the choice for categorical choices that are all numbers (a
learning-rate grid is ordered), and plain identity for other categoricals --
and the difference of two configurations in parameter ``p`` is ``delta_p`` in
[0, 1]. A parameter active in one configuration and absent in the other
(conditional spaces) is counted once, in a separate "structure" column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

MISSING = np.nan


def _numeric_choices(dist: CategoricalDistribution) -> bool:
    return all(
        isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
        for c in dist.choices
    ) and len(dist.choices) > 1


def is_ordinal(dist: BaseDistribution) -> bool:
    """Int/float ranges and categoricals whose choices are all numbers."""
    if isinstance(dist, CategoricalDistribution):
        return _numeric_choices(dist)
    return True


def position(dist: BaseDistribution, value: Any) -> float:
    """The value's position in [0, 1] (ordinal) or its choice index (nominal categorical)."""
    if isinstance(dist, CategoricalDistribution):
        index = dist.to_internal_repr(value)
        if _numeric_choices(dist):
            order = np.argsort(np.argsort(np.asarray(dist.choices, dtype=float)))
            return float(order[int(index)]) / (len(dist.choices) - 1)
        return float(index)
    low, high, v = float(dist.low), float(dist.high), float(value)
    if getattr(dist, "log", False):
        low, high, v = math.log(low), math.log(high), math.log(v)
    return 0.0 if high == low else (v - low) / (high - low)


def from_position(dist: BaseDistribution, pos: float) -> Any:
    """Inverse of :func:`position` for ordinal distributions (snapped to a valid value).

    Values come back inside ``[low, high]`` exactly, and on the step grid: the inverse
    log transform alone gives ``exp(log(1e-6)) == 1.0000000000000004e-06``, a value a
    user reads as noise, so bounds are returned as given and floats are rounded to 15
    significant digits (below that is rounding error of the transform, not the search).
    """
    pos = float(np.clip(pos, 0.0, 1.0))
    if isinstance(dist, CategoricalDistribution):
        ranks = np.argsort(np.asarray(dist.choices, dtype=float))
        return dist.choices[int(ranks[int(round(pos * (len(dist.choices) - 1)))])]
    if isinstance(dist, IntDistribution):
        value = _unscaled(dist, pos)
        value = int(round((value - dist.low) / dist.step)) * dist.step + dist.low
        return int(min(max(value, dist.low), dist.high))
    assert isinstance(dist, FloatDistribution)
    low, high = float(dist.low), float(dist.high)
    if pos == 0.0:
        return low
    if pos == 1.0:
        return high
    value = _unscaled(dist, pos)
    if dist.step is not None:
        value = round((value - low) / dist.step) * dist.step + low
    value = float(f"{value:.15g}")
    return min(max(value, low), high)


def _unscaled(dist: IntDistribution | FloatDistribution, pos: float) -> float:
    """The value at ``pos`` in [0, 1] of the (log-scaled where ``log``) range."""
    low, high = float(dist.low), float(dist.high)
    if not dist.log:
        return low + pos * (high - low)
    return math.exp(math.log(low) + pos * (math.log(high) - math.log(low)))


class ParamEncoder:
    """Encodes configurations over a fixed list of named distributions.

    ``encode`` turns configurations into a matrix of positions (NaN where a
    parameter is absent); ``deltas`` gives the per-parameter differences of
    two encoded sets, shape ``(a, b, n_params)``.
    """

    def __init__(self, distributions: Mapping[str, BaseDistribution]) -> None:
        self.names = sorted(distributions)
        self.distributions = dict(distributions)
        self.nominal = np.array([not is_ordinal(self.distributions[n]) for n in self.names])

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        out = np.full((len(configs), len(self.names)), MISSING)
        for i, config in enumerate(configs):
            for j, name in enumerate(self.names):
                if name in config:
                    try:
                        out[i, j] = position(self.distributions[name], config[name])
                    except (ValueError, TypeError):  # value outside a changed distribution
                        out[i, j] = MISSING
        return out

    @property
    def columns(self) -> list[str]:
        """Names of the columns of :meth:`deltas`: the parameters, then ``"(structure)"``."""
        return [*self.names, "(structure)"]

    def deltas(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per-parameter differences in [0, 1] between rows of ``a`` and rows of ``b``.

        Shape ``(len a, len b, n_params + 1)``. A parameter present in only one of
        the two configurations contributes 0; the last column is 1 when the two
        configurations have different sets of active parameters. So a family
        switch counts once (in its own parameter and the structure column), not
        once per conditional parameter, which would make the columns collinear.
        """
        x, y = a[:, None, :], b[None, :, :]
        diff = np.where(self.nominal, (x != y).astype(float), np.abs(x - y))
        missing_x, missing_y = np.isnan(x), np.isnan(y)
        diff = np.where(missing_x | missing_y, 0.0, diff)
        structure = np.any(missing_x ^ missing_y, axis=2, keepdims=True).astype(float)
        return np.concatenate([diff, structure], axis=2)
