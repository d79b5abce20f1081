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
    return 30.0 + 90.0 * float(np.clip(sparsity, 0.0, 1.0))


def draw_sparse(ax: Any, data: Any, coords: np.ndarray) -> None:
    """Sparse networks of ``data.sparse`` on ``ax``, lines to their originals, and a legend."""
    points = getattr(data, "sparse", None) or []
    if not points:
        return
    index = {k: i for i, k in enumerate(data.keys)}
    for p in points:
        ox, oy = coords[index[p.trial]]
        ax.plot([ox, p.x], [oy, p.y], color=method_colour(p.method), lw=0.7, alpha=0.8, zorder=4)
    for method in dict.fromkeys(p.method for p in points):
        mine = [p for p in points if p.method == method]
        ax.scatter([p.x for p in mine], [p.y for p in mine], s=[_size(p.sparsity) for p in mine], marker="D",
                   facecolors="none", edgecolors=method_colour(method), lw=1.2, zorder=5.5,
                   label=f"sparse, {method} ({len(mine)})")  # fmt: skip
    ax.legend(title="refine: sparse networks\n(size: sparsity; line: to the\ndense original)",
              fontsize=7, title_fontsize=7, loc="best", framealpha=0.85)  # fmt: skip


__all__ = ["METHOD_COLOURS", "draw_sparse", "method_colour"]
