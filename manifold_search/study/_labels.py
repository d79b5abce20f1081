"""Where to put the best trials' labels so that none overlaps another (issue 12).

The best networks of a study often sit on top of each other in the PHATE layout:
similar networks are the point of the manifold. Labels at a fixed offset then print
over each other. :func:`label_layout` merges the labels of stars that coincide
(``"#27 best, #24"``) and places each remaining label greedily, best first, at the
nearest free spot on rings around its star; a label placed beyond the first ring
gets a leader line. The plot (matplotlib, display pixels) and the explore page
(SVG pixels) both draw what this pure function returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Directions tried on each ring (y up), first preferred: up-right, right, down-right, up, ...
_DIRECTIONS = ((1, 1), (1, 0), (1, -1), (0, 1), (0, -1), (-1, 1), (-1, 0), (-1, -1))
_RINGS = (1.0, 1.9, 2.9, 4.2, 5.8, 7.6)
_FREE = 1e-6  # a cost below this (rounding) is a free spot


@dataclass(frozen=True)
class Label:
    """A label's text, box centre and size, its anchor, and whether it needs a leader line."""

    text: str
    x: float
    y: float
    width: float
    height: float
    anchor: tuple[float, float]
    leader: bool
    members: tuple[int, ...]  # indices of the anchors it names

    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1)."""
        return (self.x - self.width / 2, self.y - self.height / 2,
                self.x + self.width / 2, self.y + self.height / 2)  # fmt: skip


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float],
            pad: float = 0.0) -> float:  # fmt: skip
    """Area by which two boxes (x0, y0, x1, y1), each grown by ``pad``, overlap."""
    w = min(a[2], b[2]) - max(a[0], b[0]) + 2 * pad
    h = min(a[3], b[3]) - max(a[1], b[1]) + 2 * pad
    return max(0.0, w) * max(0.0, h)


def merge_coincident(anchors: Sequence[tuple[float, float]], radius: float) -> list[list[int]]:
    """Groups of anchor indices closer than ``radius`` (single linkage), first index first."""
    groups: list[list[int]] = []
    for i, (x, y) in enumerate(anchors):
        near = [g for g in groups if any(math.dist((x, y), anchors[j]) < radius for j in g)]
        merged = [j for g in near for j in g] + [i]
        groups = [g for g in groups if g not in near] + [sorted(merged)]
    return sorted(groups, key=lambda g: g[0])


def label_layout(
    anchors: Sequence[tuple[float, float]],
    texts: Sequence[str],
    measure: Callable[[str], tuple[float, float]],
    *,
    offset: float = 10.0,
    merge_radius: float = 4.0,
    keep_clear: float = 8.0,
    bounds: tuple[float, float, float, float] | None = None,
    y_down: bool = False,
) -> list[Label]:
    """Non-overlapping label boxes for ``anchors`` (one text each, best first).

    ``measure(text)`` gives a text's (width, height) in the anchors' units; ``offset`` is
    the gap from an anchor to its label on the first ring (at least ``keep_clear``);
    ``keep_clear`` the radius around every anchor (its star) that no label may cover;
    ``bounds`` (x0, y0, x1, y1), where given, the area labels must stay in; ``y_down``
    for pixel coordinates that grow downwards (SVG), so "up-right" stays up-right. Anchors closer than ``merge_radius`` share
    one label, their texts joined by ", ". Where no free spot exists (a crowded plot) the
    spot with the least overlap is taken.
    """
    flip = -1 if y_down else 1
    placed: list[Label] = []
    for group in merge_coincident(anchors, merge_radius):
        text = ", ".join(texts[i] for i in group)
        width, height = measure(text)
        ax, ay = anchors[group[0]]
        best: tuple[float, Label] | None = None
        for ring, scale in enumerate(_RINGS):
            for dx, dy in _DIRECTIONS:
                dy *= flip
                r = offset * scale / math.hypot(dx, dy)  # the box's nearest corner or edge at r
                label = Label(text, ax + dx * (r + width / 2), ay + dy * (r + height / 2),
                              width, height, (ax, ay), ring > 0, tuple(group))  # fmt: skip
                cost = _cost(label.box(), placed, anchors, keep_clear, bounds)
                if best is None or cost < best[0]:
                    best = (cost, label)
                if cost < _FREE:
                    break
            if best is not None and best[0] < _FREE:
                break
        assert best is not None
        placed.append(best[1])
    return placed


def _cost(box: tuple[float, float, float, float], placed: list[Label],
          anchors: Sequence[tuple[float, float]], keep_clear: float,
          bounds: tuple[float, float, float, float] | None) -> float:  # fmt: skip
    """Overlap with placed labels (padded by 2), intrusion into any star's circle, and
    area outside the bounds: 0 for a free spot."""
    cost = sum(overlap(box, p.box(), pad=2.0) for p in placed)
    for x, y in anchors:
        gap = math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))
        cost += max(0.0, keep_clear - gap) ** 2
    if bounds is not None:
        area = (box[2] - box[0]) * (box[3] - box[1])
        cost += 4 * (area - overlap(box, bounds))
    return cost


def leader_segment(label: Label, gap: float) -> tuple[float, float, float, float]:
    """A leader line from ``gap`` off the anchor (a star's edge) to the label's box."""
    ax, ay = label.anchor
    x0, y0, x1, y1 = label.box()
    bx, by = min(max(ax, x0), x1), min(max(ay, y0), y1)  # the box's point nearest the anchor
    length = math.hypot(bx - ax, by - ay)
    if length <= gap:
        return (bx, by, bx, by)
    t = gap / length
    return (ax + t * (bx - ax), ay + t * (by - ay), bx, by)
