"""The report's plots: history.png, manifold.png and features.png (matplotlib, Agg).

matplotlib is imported when a figure is made, not when this module is imported.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from manifold_search.study._labels import label_layout
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


def zoom_limits(values: list[float], others: list[list[float]], maximize: bool,
                startup: int | None) -> tuple[float, float]:  # fmt: skip
    """The y-range of the zoomed history panel: where the best values are.

    The rule (maximizing; mirrored when minimizing): from the best value the study had
    when its random start-up ended (after ``startup`` trials, else after a quarter of
    them), kept between the median and the 75th percentile of the study's finished
    values, up to the best value of the study and its baselines (``others``), with
    margins of 12% of that span below and 8% above. So the zoom starts where the
    model-based search takes over, never takes in the worse half of the trials, and
    always shows the top quarter (digits, 30 trials: 0.958-0.979, where the full axis
    spans 0.1-1.0).
    """
    v = np.asarray(values, dtype=float)
    pooled = np.concatenate([v, *[np.asarray(o, dtype=float) for o in others]])
    sign = 1.0 if maximize else -1.0  # work as if maximizing
    n_start = min(len(v), startup if startup else max(1, len(v) // 4))
    start = float(np.max(sign * v[:n_start]))
    floor = float(np.clip(start, np.median(sign * v), np.percentile(sign * v, 75)))
    top = float(np.max(sign * pooled))
    span = top - floor
    if span <= 0:  # every value at the top: a narrow band around it
        span = 0.01 * max(abs(top), 1e-12)
        floor = top - span
    lo, hi = floor - 0.12 * span, top + 0.08 * span
    return (lo, hi) if maximize else (-hi, -lo)


#: Line styles of the baselines' best-so-far curves (the sampler's is solid).
_BASELINE_STYLES = ((0, (5, 2.5)), (0, (1.5, 1.5)), (0, (6, 2, 1.5, 2)))


def _history_curves(ax, values: list[float], baselines: list[Baseline], maximize: bool,
                    sampler: str) -> None:  # fmt: skip
    """Trial values (grey dots), the study's best so far (blue, solid, thick) and each
    baseline's (orange/green/..., dashed, thinner and drawn on top): where the curves
    coincide (the shared random start-up) both stay visible."""
    x = np.arange(1, len(values) + 1)
    ax.scatter(x, values, s=18, color="0.6", alpha=0.8, label="trial value", zorder=2)
    ax.step(x, best_so_far(values, maximize), where="post", color="C0", lw=2.8, ls="-",
            label=f"best so far, {sampler} (this study)", zorder=3)  # fmt: skip
    for i, b in enumerate(baselines):
        bx = np.arange(1, len(b.values) + 1)
        ax.step(bx, best_so_far(b.values, maximize), where="post", color=f"C{i + 1}", lw=1.7,
                ls=_BASELINE_STYLES[i % len(_BASELINE_STYLES)], label=f"best so far, {b.label}",
                zorder=4)  # fmt: skip


def history_figure(values: list[float], baselines: list[Baseline], *, maximize: bool,
                   label: str, sampler: str, startup: int | None, title: str):  # fmt: skip
    """Left: every trial on the full axis. Right: the best-so-far curves on the axis of
    :func:`zoom_limits`, where the differences between samplers are."""
    fig = _figure(12.5, 4.6)
    full, zoom = fig.subplots(1, 2, width_ratios=(1.0, 1.15))
    lo, hi = zoom_limits(values, [b.values for b in baselines], maximize, startup)
    n = max([len(values), *[len(b.values) for b in baselines]])
    for ax in (full, zoom):
        _history_curves(ax, values, baselines, maximize, sampler)
        if startup and startup < len(values):
            ax.axvline(startup + 0.5, color="0.3", ls=":", lw=1)
            ax.annotate(f"random start-up ({startup})", (startup + 0.5, 0.02),
                        xycoords=("data", "axes fraction"), rotation=90, ha="right",
                        va="bottom", fontsize=8, color="0.3")  # fmt: skip
        ax.set_xlabel("completed trials (in trial order)")
        ax.set_xlim(0.5, n + 0.5)
        ax.grid(alpha=0.3)
    full.axhspan(lo, hi, color="C0", alpha=0.13, lw=0, zorder=1)
    full.set_ylabel(label)
    full.set_title("all trials", fontsize=10)
    zoom.set_ylim(lo, hi)
    zoom.set_ylabel(f"{label} (zoomed)")
    zoom.set_title(f"zoom on the best values (shaded band on the left): {lo:.4g} to {hi:.4g}",
                   fontsize=10)  # fmt: skip
    handles, texts = zoom.get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=len(texts), fontsize=9,
               frameon=False)  # fmt: skip
    fig.suptitle(title, fontsize=12)
    return fig


def plot_history(data: StudyData, baselines: list[Baseline], path: Path) -> None:
    """Objective of every COMPLETE trial and the best so far, with baselines."""
    fig = history_figure(
        [t.value for t in data.complete], baselines, maximize=data.maximize, label=data.label,
        sampler=(data.meta.get("sampler") or {}).get("name", "sampler"),
        startup=startup_trials(data.meta),
        title=f"Optimisation history of '{data.study.study_name}'",
    )  # fmt: skip
    fig.savefig(path)


def _best_labels(fig, ax, data: StudyData, coords: np.ndarray) -> None:
    """Label the best trials' stars, labels placed by :func:`label_layout` (no overlaps).

    Needs the final layout: call after the figure's axes, limits and margins are set."""
    fig.draw_without_rendering()  # constrained layout and limits are final from here on
    renderer = fig.canvas.get_renderer()
    index = {k: i for i, k in enumerate(data.keys)}
    keys = data.best_keys()
    anchors = [tuple(ax.transData.transform(coords[index[k]][:2])) for k in keys]
    dots = [tuple(p) for p in ax.transData.transform(coords[:, :2])]
    texts = [f"#{k} best" if rank == 0 else f"#{k}" for rank, k in enumerate(keys)]

    def measure(text: str) -> tuple[float, float]:
        probe = ax.text(0, 0, text, fontsize=8, fontweight="bold")
        box = probe.get_window_extent(renderer)
        probe.remove()
        return box.width + 2, box.height

    px_per_pt = fig.dpi / 72
    bounds = tuple(ax.get_window_extent(renderer).extents)
    star = 9 * px_per_pt  # the star marker's radius (s=320 points^2)
    # stars closer than a star's radius overlap: one label names them all
    for label in label_layout(anchors, texts, measure, offset=star, keep_clear=star,
                              merge_radius=star, dots=dots, dot_radius=5 * px_per_pt,
                              bounds=bounds):  # fmt: skip
        anchor = data.keys.index(keys[label.members[0]])
        offset = ((label.x - label.anchor[0]) / px_per_pt, (label.y - label.anchor[1]) / px_per_pt)
        arrow = dict(arrowstyle="-", color="darkred", lw=0.7, shrinkA=0, shrinkB=star / px_per_pt)
        note = ax.annotate(label.text, coords[anchor][:2], xytext=offset, textcoords="offset points",
                           ha="center", va="center", fontsize=8, color="darkred",
                           fontweight="bold" if 0 in label.members else "normal", zorder=6,
                           bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75),
                           arrowprops=arrow if label.leader else None, annotation_clip=False)  # fmt: skip
        note.set_in_layout(False)


def _mark_best(ax, data: StudyData, coords: np.ndarray) -> None:
    index = {k: i for i, k in enumerate(data.keys)}
    for key in data.best_keys():
        x, y = coords[index[key]][:2]
        ax.scatter([x], [y], s=320, marker="*", facecolors="none", edgecolors="red", lw=1.5, zorder=5)


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
        _mark_best(ax, data, coords)
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
        _mark_best(ax, data, coords)
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
    _best_labels(fig, axes.flat[0], data, coords)
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
