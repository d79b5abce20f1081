"""``curves.png`` of a benchmark: best-so-far regret (median + IQR, mean ± s.e.) and
sampler time per trial, one fixed colour per sampler."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from manifold_search.benchmark.results import Collected, as_array

#: Fixed colours so that a sampler looks the same in every figure.
COLORS = {
    "random": "#7f7f7f",
    "tpe": "#1f77b4",
    "tpe-univariate": "#6baed6",
    "gp": "#2ca02c",
    "cmaes": "#ff7f0e",
    "qmc": "#9467bd",
    "manifold": "#d62728",
}
_EXTRA_COLORS = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#393b79", "#637939"]


def _color(label: str, spec: dict[str, Any], i: int, taken: set[str] = frozenset()) -> str:
    """The sampler's fixed colour; a second label of the same sampler (an ablation,
    other keywords) gets a colour of its own so the two curves can be told apart."""
    for colour in (COLORS.get(label), COLORS.get(spec.get("name", ""))):
        if colour and colour not in taken:
            return colour
    free = [c for c in _EXTRA_COLORS if c not in taken] or _EXTRA_COLORS
    return free[i % len(free)]


def plot(c: Collected, result: dict[str, Any], path: Path, value_label: str) -> None:
    """Best-so-far regret (median + IQR, mean ± s.e.) and sampler time per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = np.arange(1, c.n_trials + 1)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2), constrained_layout=True)
    colours = _colours(c)
    for i, x in enumerate(c.labels):
        col = colours[x]
        cur = result["curves"][x]
        med, q25, q75 = (as_array(cur[k]) for k in ("median", "q25", "q75"))
        mean, se = as_array(cur["mean"]), as_array(cur["se"])
        axes[0].plot(trials, med, color=col, lw=2, label=x)
        axes[0].fill_between(trials, q25, q75, color=col, alpha=0.15, lw=0)
        axes[1].plot(trials, mean, color=col, lw=2, label=x)
        axes[1].fill_between(trials, mean - se, mean + se, color=col, alpha=0.2, lw=0)
        sec = np.nanmedian(c.seconds[i], axis=0)
        axes[2].plot(trials, np.maximum(sec, 1e-6), color=col, lw=1.5, label=x)
    exact = result.get("random_search_exact_curve")
    if exact is not None:
        for ax in axes[:2]:
            ax.plot(trials, exact, color="black", lw=1, ls="--",
                    label="random search, exact expectation (mean)")
    scale = _y_scale(c, result)
    tops = _tops(c, result)
    for ax, top, title in [(axes[0], tops[0], "median and inter-quartile range"),
                           (axes[1], tops[1], "mean ± standard error")]:
        _regret_axis(ax, top, scale, c.n_trials)
        ax.set_ylabel(f"best-so-far regret, {value_label}")
        ax.set_title(f"Regret: {title}")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("trial")
    axes[2].set_ylabel("seconds inside the sampler (median over seeds)")
    axes[2].set_title("Sampler overhead per trial")
    axes[2].grid(True, which="major", alpha=0.3)
    axes[2].set_xlim(1, c.n_trials)
    handles, names = axes[1].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=len(names), frameon=False)
    fig.suptitle(f"{c.problem}: best-so-far regret over {len(c.seeds)} seeds "
                 f"x {c.n_trials} trials", fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _colours(c: Collected) -> dict[str, str]:
    """Labels with a fixed colour of their own first, so an ablation never takes it."""
    colours: dict[str, str] = {x: COLORS[x] for x in c.labels if x in COLORS}
    for i, x in enumerate(c.labels):
        if x not in colours:
            colours[x] = _color(x, c.specs[x], i, set(colours.values()))
    return colours


def _y_scale(c: Collected, result: dict[str, Any]) -> tuple[float, bool, bool]:
    """(smallest positive value drawn, whether zeros are drawn, log axis?): the y scale
    from what is drawn, the bands' lower edges and the lines themselves."""
    lows = []
    for x in c.labels:
        cur = result["curves"][x]
        mean, se = as_array(cur["mean"]), np.nan_to_num(as_array(cur["se"]))
        lows += [as_array(cur["q25"]), as_array(cur["median"]), mean - se]
    drawn = np.concatenate(lows)
    drawn = drawn[np.isfinite(drawn)]
    positive = drawn[drawn > 0]
    floor = float(positive.min()) if positive.size else 1e-3
    peak = float(np.nanmax(c.regret)) if np.isfinite(c.regret).any() else 1.0
    return floor, bool((drawn <= 0).any()), bool(positive.size > 0 and peak / floor > 20)


def _tops(c: Collected, result: dict[str, Any]) -> tuple[float, float]:
    """Upper y limits of the two regret panels. The first few random trials have huge
    regret; the range starts at 10% of the budget so the differences that matter stay
    readable."""
    k0 = min(c.n_trials, max(3, c.n_trials // 10)) - 1
    curves = result["curves"]
    return (
        max(as_array(curves[x]["q75"])[k0] for x in c.labels),
        max(as_array(curves[x]["mean"])[k0] + np.nan_to_num(as_array(curves[x]["se"])[k0])
            for x in c.labels),
    )  # fmt: skip


def _regret_axis(ax: Any, top: float, scale: tuple[float, bool, bool], n_trials: int) -> None:
    import matplotlib.ticker as mticker

    floor, has_zero, log_y = scale
    top = top * 1.6 if math.isfinite(top) and top > 0 else None
    if log_y and has_zero:
        # Regret can be exactly 0 (the oracle was found): a symmetric-log axis
        # keeps zeros visible and is logarithmic above the smallest drawn value.
        ax.set_yscale("symlog", linthresh=floor, linscale=0.4)
        ax.set_ylim(0, top)
        ax.yaxis.set_major_locator(
            mticker.SymmetricalLogLocator(linthresh=floor, base=10, subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
    elif log_y:
        ax.set_yscale("log")
        ax.set_ylim(floor / 1.3, top)
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    else:
        ax.set_ylim(0, top * 1.1 if top is not None else None)
    ax.set_xlabel("trial")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_xlim(1, n_trials)
