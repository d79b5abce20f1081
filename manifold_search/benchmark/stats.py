"""Statistics of a sampler comparison: regret summaries, ranks, paired tests.

Input is a regret array ``R`` of shape ``(samplers, seeds, trials)``: the regret
of the best value found so far, for the same seeds across samplers (paired).
At a budget ``b`` the comparison uses ``R[:, :, b - 1]``.

* median / mean regret with its standard error (``std(ddof=1) / sqrt(n)``) and
  the inter-quartile range;
* mean rank: per seed the samplers are ranked by regret (1 = best, ties get the
  average of their ranks), then averaged over seeds;
* paired comparison with a reference sampler (TPE by default): wins / ties /
  losses per seed (a tie is equal regret up to ``TIE_RTOL``/``TIE_ATOL``) and the
  one-sided Wilcoxon signed-rank p-value for "this sampler's regret is lower"
  (``scipy.stats.wilcoxon(d, alternative="less")`` on ``d = R_sampler - R_ref``,
  zero differences dropped as in Wilcoxon's original test; when every
  difference is zero the p-value is 1: no evidence of a difference).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

TIE_RTOL = 1e-9
TIE_ATOL = 1e-12


def _clean(x: Any) -> Any:
    """Floats -> JSON-safe (nan/inf -> None)."""
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def summarize(values: np.ndarray) -> dict[str, Any]:
    """Median, IQR, mean and standard error of a 1-D sample (nan ignored)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return {"n": 0, "median": None, "q25": None, "q75": None, "mean": None, "se": None}
    se = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {
        "n": n,
        "median": _clean(float(np.median(v))),
        "q25": _clean(float(np.quantile(v, 0.25))),
        "q75": _clean(float(np.quantile(v, 0.75))),
        "mean": _clean(float(v.mean())),
        "se": _clean(se),
    }


def mean_ranks(regrets: np.ndarray) -> np.ndarray:
    """Mean rank of each sampler; ``regrets`` is ``(samplers, seeds)``, lower is better.

    Ties share the average rank; a missing value (nan) ranks last.
    """
    r = np.where(np.isfinite(regrets), regrets, np.inf)
    ranks = sps.rankdata(r, axis=0, method="average")
    return ranks.mean(axis=1)


def paired_differences(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``a - ref`` with differences within the tie tolerance set to exactly 0."""
    a = np.asarray(a, dtype=float)
    ref = np.asarray(ref, dtype=float)
    d = a - ref
    d[np.isclose(a, ref, rtol=TIE_RTOL, atol=TIE_ATOL)] = 0.0
    return d


def win_tie_loss(a: np.ndarray, ref: np.ndarray) -> tuple[int, int, int]:
    """Seeds where ``a`` has lower / equal / higher regret than ``ref``."""
    d = paired_differences(a, ref)
    d = d[np.isfinite(d)]
    return int((d < 0).sum()), int((d == 0).sum()), int((d > 0).sum())


def wilcoxon_less(a: np.ndarray, ref: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value for "``a`` has lower regret than ``ref``"."""
    d = paired_differences(a, ref)
    d = d[np.isfinite(d)]
    if d.size == 0 or np.all(d == 0):
        return 1.0
    result = sps.wilcoxon(d, alternative="less", zero_method="wilcox")
    return float(result.pvalue)


def budget_table(
    regrets: np.ndarray, labels: Sequence[str], reference: str | None
) -> list[dict[str, Any]]:
    """One row per sampler at one budget; ``regrets`` is ``(samplers, seeds)``."""
    ranks = mean_ranks(regrets)
    ref_idx = list(labels).index(reference) if reference in labels else None
    rows = []
    for i, label in enumerate(labels):
        row: dict[str, Any] = {"sampler": label, **summarize(regrets[i])}
        row["mean_rank"] = _clean(float(ranks[i]))
        if ref_idx is not None and i != ref_idx:
            wins, ties, losses = win_tie_loss(regrets[i], regrets[ref_idx])
            row.update(
                wins=wins, ties=ties, losses=losses,
                p_less=_clean(wilcoxon_less(regrets[i], regrets[ref_idx])),
            )
        else:
            row.update(wins=None, ties=None, losses=None, p_less=None)
        rows.append(row)
    return rows


def curve(regrets: np.ndarray) -> dict[str, list[float | None]]:
    """Per-trial median, quartiles, mean and s.e.; ``regrets`` is ``(seeds, trials)``."""
    r = np.asarray(regrets, dtype=float)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan columns give nan
        n = np.isfinite(r).sum(axis=0)
        med = np.nanmedian(r, axis=0)
        q25 = np.nanquantile(r, 0.25, axis=0)
        q75 = np.nanquantile(r, 0.75, axis=0)
        mean = np.nanmean(r, axis=0)
        se = np.nanstd(r, axis=0, ddof=1) / np.sqrt(np.maximum(n, 1))
    return {
        key: [_clean(float(x)) for x in arr]
        for key, arr in {"median": med, "q25": q25, "q75": q75, "mean": mean, "se": se}.items()
    }


def overhead(seconds: np.ndarray) -> dict[str, Any]:
    """Sampler seconds per trial; ``seconds`` is ``(seeds, trials)``."""
    s = np.asarray(seconds, dtype=float)
    s = s[np.isfinite(s).all(axis=1)] if s.ndim == 2 else s
    if s.size == 0:
        return {"median_per_trial": None, "mean_per_trial": None, "mean_per_run": None,
                "median_last10": None}
    return {
        "median_per_trial": _clean(float(np.median(s))),
        "mean_per_trial": _clean(float(s.mean())),
        "mean_per_run": _clean(float(s.sum(axis=1).mean())),
        "median_last10": _clean(float(np.median(s[:, -10:]))),
    }
