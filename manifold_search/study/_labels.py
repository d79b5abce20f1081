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


@dataclass(frozen=True)
class _Scene:
    """What a label must keep clear of: stars, other points, the bounds."""

    stars: Sequence[tuple[float, float]]
    keep_clear: float
    dots: Sequence[tuple[float, float]]
    dot_radius: float
    bounds: tuple[float, float, float, float] | None

    def cost(self, box: tuple[float, float, float, float], placed: list[Label]) -> float:
        """Overlap with placed labels (padded by 2), intrusion into a star's circle or
        (less) a point's, area outside the bounds: 0 for a free spot."""
        cost = sum(overlap(box, p.box(), pad=2.0) for p in placed)
        cost += sum(max(0.0, self.keep_clear - _gap(box, s)) ** 2 for s in self.stars)
        cost += 0.25 * sum(max(0.0, self.dot_radius - _gap(box, d)) ** 2 for d in self.dots)
        if self.bounds is not None:
            area = (box[2] - box[0]) * (box[3] - box[1])
            cost += 4 * (area - overlap(box, self.bounds))
        return cost


def _gap(box: tuple[float, float, float, float], point: tuple[float, float]) -> float:
    """Distance from a point to a box (0 inside)."""
    x, y = point
    return math.hypot(max(box[0] - x, 0.0, x - box[2]), max(box[1] - y, 0.0, y - box[3]))


def label_layout(
    anchors: Sequence[tuple[float, float]],
    texts: Sequence[str],
    measure: Callable[[str], tuple[float, float]],
    *,
    offset: float = 10.0,
    merge_radius: float = 4.0,
    keep_clear: float = 8.0,
    crowd_radius: float | None = None,
    dots: Sequence[tuple[float, float]] = (),
    dot_radius: float = 0.0,
    bounds: tuple[float, float, float, float] | None = None,
    y_down: bool = False,
) -> list[Label]:
    """Non-overlapping label boxes for ``anchors`` (one text each, best first).

    ``measure(text)`` gives a text's (width, height) in the anchors' units; ``offset`` is
    the gap from an anchor to its label on the first ring (at least ``keep_clear``);
    ``keep_clear`` the radius around every anchor (its star) that no label may cover.
    Anchors closer than ``merge_radius`` share one label, their texts joined by ", ".
    A label whose anchor has another within ``crowd_radius`` (default ``3 * offset``)
    starts on the second ring with a leader line, so that it is clear which star it
    names. ``dots`` (other points, radius ``dot_radius``) are avoided where there is
    room; ``bounds`` (x0, y0, x1, y1) is the area labels stay in; ``y_down`` for pixel
    coordinates that grow downwards (SVG), so that "up-right" stays up-right on screen.
    Where no free spot exists (a crowded plot) the spot of least overlap is taken.
    """
    scene = _Scene(anchors, keep_clear, dots, dot_radius, bounds)
    groups = merge_coincident(anchors, merge_radius)
    crowd = 3 * offset if crowd_radius is None else crowd_radius
    placed: list[Label] = []
    for group in groups:
        text = ", ".join(texts[i] for i in group)
        anchor = anchors[group[0]]
        crowded = any(math.dist(anchor, anchors[o[0]]) < crowd for o in groups if o is not group)
        placed.append(_place(text, measure(text), anchor, tuple(group), scene, placed,
                             offset, 1 if crowded else 0, -1 if y_down else 1))  # fmt: skip
    return placed


def _place(text: str, size: tuple[float, float], anchor: tuple[float, float],
           members: tuple[int, ...], scene: _Scene, placed: list[Label], offset: float,
           first_ring: int, flip: int) -> Label:  # fmt: skip
    """The first free spot on the rings around ``anchor``, else the least bad one."""
    (width, height), (ax, ay) = size, anchor
    best: tuple[float, Label] | None = None
    for ring in range(first_ring, len(_RINGS)):
        for dx, dy in _DIRECTIONS:
            dy *= flip
            r = offset * _RINGS[ring] / math.hypot(dx, dy)  # the box's nearest corner or edge
            label = Label(text, ax + dx * (r + width / 2), ay + dy * (r + height / 2), width,
                          height, anchor, ring > 0, members)  # fmt: skip
            cost = scene.cost(label.box(), placed)
            if cost < _FREE:
                return label
            if best is None or cost < best[0]:
                best = (cost, label)
    assert best is not None
    return best[1]


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
