"""The refine stage's sparse networks drawn on the report's manifold panels.

Each sparse network (placed by :mod:`manifold_search.study.sparse`) is a hollow
diamond, coloured by method, its size growing with its sparsity, joined by a thin
line to its dense original: a short line means the sparse network arranges the
probe inputs as its original does (the function was kept), a long one that it
moved towards other networks. Drawn on the objective's panel only: the feature
panels stay as uncluttered as without a refine stage, and the explore page shows
each sparse network's numbers on hover.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Edge colour of each method's diamonds (no red: red marks the best trials).
METHOD_COLOURS = {"fip": "black", "magnitude": "tab:orange", "imp": "tab:blue", "gmp": "tab:purple"}


def method_colour(method: str) -> str:
    return METHOD_COLOURS.get(method, "tab:brown")


def _size(sparsity: float) -> float:
    return 18.0 + 62.0 * float(np.clip(sparsity, 0.0, 1.0))


def draw_sparse(ax: Any, data: Any, coords: np.ndarray, trial: int | None = None) -> None:
    """Sparse networks of ``data.sparse`` (of one ``trial``, else all) on ``ax``, lines to
    their originals, and a legend."""
    points = [p for p in getattr(data, "sparse", None) or [] if trial is None or p.trial == trial]
    if not points:
        return
    index = {k: i for i, k in enumerate(data.keys)}
    for p in points:
        ox, oy = coords[index[p.trial]]
        ax.plot([ox, p.x], [oy, p.y], color=method_colour(p.method), lw=0.7, alpha=0.8, zorder=4)
    for method in dict.fromkeys(p.method for p in points):
        mine = [p for p in points if p.method == method]
        ax.scatter([p.x for p in mine], [p.y for p in mine], s=[_size(p.sparsity) for p in mine], marker="D",
                   facecolors="none", edgecolors=method_colour(method), lw=1.0, zorder=5.5,
                   label=f"sparse, {method} ({len(mine)})")  # fmt: skip
    ax.legend(title="refine: sparse networks\n(size: sparsity; line: to the\ndense original)",
              fontsize=7, title_fontsize=7, loc="best", framealpha=0.85)  # fmt: skip


__all__ = ["METHOD_COLOURS", "draw_sparse", "method_colour", "plot_sparse_zoom"]


#: Where each method's sparsity labels sit around its diamonds (points), so methods do not overlap.
_LABEL_OFFSETS = {"fip": (6, 5), "magnitude": (6, -10), "imp": (-6, 5), "gmp": (-6, -10)}


def _zoom_limits(coords: np.ndarray, points: list[Any], centre: np.ndarray) -> tuple[tuple[float, float], ...]:
    """A square-ish window around ``centre`` and ``points``: at least 12% of the full layout's span."""
    xy = np.array([centre] + [[p.x, p.y] for p in points])
    span = np.ptp(coords, axis=0) if len(coords) > 1 else np.ones(2)
    half = np.maximum(0.5 * np.ptp(xy, axis=0) * 1.25, 0.06 * np.maximum(span, 1e-12))
    mid = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
    return (mid[0] - half[0], mid[0] + half[0]), (mid[1] - half[1], mid[1] + half[1])


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_sparse_zoom(data: Any, path: Any) -> bool:
    """``sparse.png``: one zoomed panel per sparsified winner, its sparse networks labelled by
    sparsity; dense networks coloured by the objective. False (nothing written) without any."""
    points = getattr(data, "sparse", None) or []
    if not points:
        return False
    trials = list(dict.fromkeys(p.trial for p in points))
    index = {k: i for i, k in enumerate(data.keys)}
    coords = data.coords
    values = np.array([data.by_number[k].value for k in data.keys], dtype=float)
    fig = _figure(max(5.6, 4.6 * len(trials)), 4.7)  # one panel: room for the two-line titles
    axes = np.atleast_1d(fig.subplots(1, len(trials)))
    for ax, trial in zip(axes, trials, strict=True):
        mine = [p for p in points if p.trial == trial]
        centre = coords[index[trial]]
        sc = ax.scatter(coords[:, 0], coords[:, 1], c=values, cmap="viridis", s=60, edgecolor="0.25", lw=0.4,
                        zorder=3)  # fmt: skip
        ax.scatter([centre[0]], [centre[1]], s=420, marker="*", facecolors="none", edgecolors="red", lw=1.5,
                   zorder=5)  # fmt: skip
        draw_sparse(ax, data, coords, trial)
        for p in mine:
            ax.annotate(f"{p.sparsity:.0%}", (p.x, p.y), xytext=_LABEL_OFFSETS.get(p.method, (6, 5)),
                        textcoords="offset points", fontsize=7, color=method_colour(p.method), zorder=6,
                        ha="left" if _LABEL_OFFSETS.get(p.method, (6, 5))[0] > 0 else "right")  # fmt: skip
        (x0, x1), (y0, y1) = _zoom_limits(coords, mine, centre)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xticks([])
        ax.set_yticks([])
        value = data.by_number[trial].value
        ax.set_title(f"trial #{trial} ({data.label} {value:.3f})\nand its sparse networks", fontsize=10)
        if ax is not axes[0]:
            legend = ax.get_legend()
            if legend is not None:
                legend.remove()
    fig.colorbar(sc, ax=list(axes), shrink=0.85, pad=0.01).set_label(data.label, fontsize=9)
    fig.suptitle("Sparse networks beside their dense originals\n(zoomed PHATE layout; labels: sparsity)",
                 fontsize=11)  # fmt: skip
    fig.savefig(path)
    return True
