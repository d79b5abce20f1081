"""Time to reach the reference sampler's best value, per seed.

Regret at a fixed trial budget says who ends better; with a pruner the trials cost
different amounts, so the question a user asks is how long a sampler takes to get
as good as the reference. Per seed the *target* is the reference's final best
(its regret after the last trial); a sampler reaches it at the first trial whose
best-so-far regret is at most the target. Its cost there is read two ways:

* ``seconds``: wall seconds since its study began (includes the sampler's own
  time, so a slow sampler pays for it; noisy on a shared machine);
* ``steps``: training steps reported so far over all trials (epochs a pruner let
  through): deterministic, the cost a pruner saves.

A seed where a sampler never reaches the target counts as infinitely slow. The
paired test is therefore a one-sided sign test (binomial, ties dropped) on
"faster than the reference", which needs no magnitude for the unreached seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from manifold_search.benchmark.stats import TIE_ATOL


def first_reach(regret: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Index of the first trial with regret <= target per seed; -1 when never.

    ``regret`` is ``(seeds, trials)``, ``target`` is ``(seeds,)``.
    """
    reached = np.nan_to_num(regret, nan=np.inf) <= target[:, None] + TIE_ATOL
    first = reached.argmax(axis=1)
    return np.where(reached.any(axis=1), first, -1)


def costs_at(cost: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``cost[seed, index[seed]]``, +inf where the target was never reached."""
    out = np.full(index.shape, np.inf)
    ok = index >= 0
    out[ok] = cost[np.flatnonzero(ok), index[ok]]
    return out


def sign_test_less(a: np.ndarray, ref: np.ndarray) -> tuple[int, int, int, float]:
    """Wins / ties / losses of ``a < ref`` and the one-sided sign-test p-value."""
    wins, losses = int((a < ref).sum()), int((a > ref).sum())
    ties = int(a.size - wins - losses)
    p = 1.0 if wins + losses == 0 else float(
        sps.binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue
    )
    return wins, ties, losses, p


def table(regret: np.ndarray, seconds: np.ndarray, steps: np.ndarray,
          labels: Sequence[str], reference: str) -> dict[str, Any] | None:  # fmt: skip
    """Rows per sampler; arrays are ``(samplers, seeds, trials)``. ``None`` without costs."""
    if not np.isfinite(seconds).any():
        return None
    ref = list(labels).index(reference)
    target = np.nan_to_num(regret[ref, :, -1], nan=np.inf)
    ref_idx = first_reach(regret[ref], target)
    ref_cost = {"seconds": costs_at(seconds[ref], ref_idx), "steps": costs_at(steps[ref], ref_idx)}
    rows = []
    for i, label in enumerate(labels):
        idx = first_reach(regret[i], target)
        row: dict[str, Any] = {"sampler": label, "reached": int((idx >= 0).sum()),
                               "seeds": int(idx.size)}
        for kind, cost in (("seconds", seconds[i]), ("steps", steps[i])):
            at = costs_at(cost, idx)
            row[f"median_{kind}"] = _median(at)
            if i != ref:
                w, t, lo, p = sign_test_less(at, ref_cost[kind])
                row[kind] = {"wins": w, "ties": t, "losses": lo, "p_sign": p}
        rows.append(row)
    return {"reference": reference, "rows": rows}


def _median(x: np.ndarray) -> float | None:
    """Median with unreached seeds (inf) counted; None when half or more never reached."""
    m = float(np.median(x))
    return None if not np.isfinite(m) else m
