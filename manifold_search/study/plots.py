"""The report's plots: history.png, manifold.png and features.png (matplotlib, Agg).

matplotlib is imported when a figure is made, not when this module is imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from manifold_search.study.data import (
    FEATURES,
    Baseline,
    StudyData,
    best_so_far,
    categorical_params,
    spearman,
    startup_trials,
)
from manifold_search.study.sparse_plot import draw_sparse

DPI = 110


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_history(data: StudyData, baselines: list[Baseline], path: Path) -> None:
    """Objective of every COMPLETE trial and the best so far, with baselines."""
    fig = _figure(7.5, 4.4)
    ax = fig.add_subplot()
    values = [t.value for t in data.complete]
    x = np.arange(1, len(values) + 1)
    sampler = (data.meta.get("sampler") or {}).get("name", "sampler")
    ax.scatter(x, values, s=18, color="0.55", alpha=0.8, label="trial value", zorder=2)
    ax.step(x, best_so_far(values, data.maximize), where="post", color="C0", lw=2.2,
            label=f"best so far ({sampler})", zorder=3)  # fmt: skip
    for i, b in enumerate(baselines):
        bx = np.arange(1, len(b.values) + 1)
        ax.step(bx, best_so_far(b.values, data.maximize), where="post", color=f"C{i + 1}",
                lw=1.8, ls="--", label=f"best so far, {b.label}", zorder=3)  # fmt: skip
    startup = startup_trials(data.meta)
    if startup and startup < len(values):
        ax.axvline(startup + 0.5, color="0.3", ls=":", lw=1)
        ax.annotate(f"random start-up ({startup})", (startup + 0.5, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, ha="right", va="bottom", fontsize=8, color="0.3")  # fmt: skip
    ax.set_xlabel("completed trials (in trial order)")
    ax.set_ylabel(data.label)
    ax.set_xlim(0.5, max([len(values), *[len(b.values) for b in baselines]]) + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if data.maximize else "upper right", fontsize=8, framealpha=0.9)
    ax.set_title(f"Optimisation history of '{data.study.study_name}'")
    fig.savefig(path)


def _mark_best(ax, data: StudyData, coords: np.ndarray, annotate: bool) -> None:
    index = {k: i for i, k in enumerate(data.keys)}
    for rank, key in enumerate(data.best_keys()):
        x, y = coords[index[key]]
        ax.scatter([x], [y], s=320, marker="*", facecolors="none", edgecolors="red", lw=1.5, zorder=5)
        if annotate:  # staggered, so that labels of nearby best trials do not overlap
            dx, dy, ha = ((9, 7, "left"), (9, -13, "left"), (-9, 7, "right"))[rank % 3]
            ax.annotate(f"#{key}" if rank else f"#{key} best", (x, y), xytext=(dx, dy),
                        textcoords="offset points", fontsize=8, color="darkred", ha=ha,
                        fontweight="bold" if rank == 0 else "normal", zorder=6)  # fmt: skip


def _level_key(level: Any) -> tuple[int, Any]:
    """Numbers in numeric order, then everything else as text."""
    if isinstance(level, int | float) and not isinstance(level, bool):
        return (0, level)
    return (1, str(level))


def plot_manifold(data: StudyData, path: Path) -> None:
    """PHATE layout of the networks, one panel per colouring, best trials marked."""
    coords = data.coords
    by_number = data.by_number
    values = np.array([by_number[k].value for k in data.keys], dtype=float)
    panels: list[tuple[str, np.ndarray, str]] = [(data.label, values, "viridis")]
    for name, title, _ in FEATURES:
        panels.append((title, np.array([data.features[k].get(name, np.nan) for k in data.keys]), "plasma"))
    category = next(iter(categorical_params(data)), None)
    fig = _figure(13.5, 8.2)
    axes = fig.subplots(2, 3)
    for ax, (title, colour, cmap) in zip(axes.flat, panels, strict=False):
        finite = np.isfinite(colour)
        sc = ax.scatter(coords[finite, 0], coords[finite, 1], c=colour[finite], cmap=cmap, s=42,
                        edgecolor="0.25", lw=0.4, zorder=3)  # fmt: skip
        if (~finite).any():
            ax.scatter(coords[~finite, 0], coords[~finite, 1], s=30, color="0.8", marker="x", zorder=2,
                       label="not defined")  # fmt: skip
        fig.colorbar(sc, ax=ax, shrink=0.85, pad=0.01).set_label(title, fontsize=9)
        _mark_best(ax, data, coords, annotate=ax is axes.flat[0])
        if ax is axes.flat[0]:
            draw_sparse(ax, data, coords)  # the refine stage's sparse networks, if any
        ax.set_title(f"coloured by {title}", fontsize=11)
    ax = axes.flat[5]
    if category:
        levels = sorted({by_number[k].params[category] for k in data.keys}, key=_level_key)
        levels = [str(level) for level in levels]
        for i, level in enumerate(levels):
            rows = [j for j, k in enumerate(data.keys) if str(by_number[k].params[category]) == level]
            ax.scatter(coords[rows, 0], coords[rows, 1], s=42, color=f"C{i % 10}", edgecolor="0.25",
                       lw=0.4, label=f"{level} ({len(rows)})", zorder=3)  # fmt: skip
        _mark_best(ax, data, coords, annotate=False)
        ax.legend(title=category, fontsize=8, title_fontsize=9, loc="best", framealpha=0.9)
        ax.set_title(f"coloured by parameter '{category}'", fontsize=11)
    else:
        ax.axis("off")
    for ax in axes.flat[: 6 if category else 5]:
        ax.set_xlabel("PHATE 1", fontsize=9)
        ax.set_ylabel("PHATE 2", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.margins(0.1)
    fig.suptitle(
        f"Network manifold of '{data.study.study_name}': {len(data.keys)} trained networks, PHATE "
        "on diffusion-operator distances (red stars: best 3 trials)", fontsize=12,
    )  # fmt: skip
    fig.savefig(path)


def plot_features(data: StudyData, path: Path) -> list[tuple[str, float, float]]:
    """Each feature against the objective; returns (feature, rho, p) per panel."""
    by_number = data.by_number
    y = np.array([by_number[k].value for k in data.keys], dtype=float)
    fig = _figure(13.5, 3.9)
    axes = fig.subplots(1, len(FEATURES), sharey=True)
    best = set(data.best_keys())
    rows = []
    for ax, (name, title, _) in zip(axes, FEATURES, strict=True):
        x = np.array([data.features[k].get(name, np.nan) for k in data.keys], dtype=float)
        rho, p = spearman(x, y)
        rows.append((name, rho, p))
        is_best = np.array([k in best for k in data.keys], dtype=bool)
        ax.scatter(x[~is_best], y[~is_best], s=22, color="C0", alpha=0.75, edgecolor="none",
                   label="other trials")
        ax.scatter(x[is_best], y[is_best], s=120, marker="*", color="red", edgecolor="darkred",
                   lw=0.6, label="best 3", zorder=4)  # fmt: skip
        rho_text = "undefined" if not math.isfinite(rho) else f"{rho:+.2f}"
        ax.set_title(f"{title}\nSpearman ρ = {rho_text} (n = {int(np.isfinite(x).sum())})", fontsize=10)
        ax.set_xlabel(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(data.label)
    axes[0].legend(fontsize=8, loc="best", framealpha=0.9)
    fig.suptitle(f"Manifold features against {data.label} ('{data.study.study_name}')", fontsize=12)
    fig.savefig(path)
    return rows
