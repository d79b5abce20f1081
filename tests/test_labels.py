"""Best-trial labels never overlap, even when the stars sit on top of each other."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_search.study._labels import label_layout, merge_coincident, overlap


def measure(text: str) -> tuple[float, float]:
    return 7.0 * len(text), 13.0


def _assert_clear(labels, anchors, keep_clear: float) -> None:
    for a, b in itertools.combinations(labels, 2):
        assert overlap(a.box(), b.box()) == 0, (a, b)
    for label in labels:
        x0, y0, x1, y1 = label.box()
        for x, y in anchors:  # no label covers a star
            gap = math.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1))
            assert gap >= keep_clear - 1e-9, (label, (x, y))


def test_coincident_stars_share_one_label() -> None:
    anchors = [(100.0, 100.0), (100.0, 100.0), (100.5, 99.8)]
    labels = label_layout(anchors, ["#27 best", "#24", "#38"], measure)
    assert [label.text for label in labels] == ["#27 best, #24, #38"]
    assert labels[0].members == (0, 1, 2)


def test_near_stars_get_separate_labels_that_do_not_overlap() -> None:
    """The issue's picture: two stars a few pixels apart (not merged), a third nearby."""
    anchors = [(200.0, 150.0), (206.0, 153.0), (215.0, 140.0)]
    labels = label_layout(anchors, ["#27 best", "#24", "#38"], measure, merge_radius=4.0)
    assert len(labels) == 3
    _assert_clear(labels, anchors, keep_clear=8.0)


def test_a_crowd_pushes_labels_out_with_leader_lines() -> None:
    anchors = [(200.0, 150.0), (205.0, 150.0), (200.0, 155.0), (205.0, 155.0)]
    labels = label_layout(anchors, ["#1 best", "#2", "#3", "#4"], measure)
    assert len(labels) == 4
    _assert_clear(labels, anchors, keep_clear=8.0)
    assert any(label.leader for label in labels)  # pushed out: a line shows whose it is


def test_the_old_fixed_offsets_would_overlap() -> None:
    """The staggered offsets the plot used before overlap for these stars (guards the test)."""
    anchors = [(200.0, 150.0), (201.0, 170.0)]
    old = [(9, 7), (9, -13)]
    boxes = [(x + dx, y + dy, x + dx + 7 * len(t), y + dy + 13)
             for (x, y), (dx, dy), t in zip(anchors, old, ["#27 best", "#24"], strict=True)]
    assert overlap(*boxes) > 0
    _assert_clear(label_layout(anchors, ["#27 best", "#24"], measure), anchors, 8.0)


def test_labels_stay_inside_the_bounds_when_there_is_room() -> None:
    anchors = [(395.0, 295.0), (390.0, 298.0), (399.0, 290.0)]  # in the top-right corner
    bounds = (0.0, 0.0, 400.0, 300.0)
    labels = label_layout(anchors, ["#1 best", "#2", "#3"], measure, bounds=bounds)
    for label in labels:
        assert overlap(label.box(), bounds) == label.width * label.height
    _assert_clear(labels, anchors, 8.0)


def test_merge_is_transitive() -> None:
    assert merge_coincident([(0, 0), (3, 0), (6, 0), (50, 0)], 4.0) == [[0, 1, 2], [3]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 30), st.floats(0, 30)), min_size=1, max_size=6))
def test_no_overlap_for_any_cluster_of_best_trials(points) -> None:
    anchors = [(200 + x, 200 + y) for x, y in points]
    texts = [f"#{i * 13}" + (" best" if i == 0 else "") for i in range(len(anchors))]
    labels = label_layout(anchors, texts, measure)
    assert sorted(i for label in labels for i in label.members) == list(range(len(anchors)))
    _assert_clear(labels, anchors, 8.0)


def test_svg_coordinates_prefer_up_right_on_screen() -> None:
    (label,) = label_layout([(100.0, 100.0)], ["#1 best"], measure, y_down=True)
    assert label.x > 100 and label.y < 100
    (label,) = label_layout([(100.0, 100.0)], ["#1 best"], measure)
    assert label.x > 100 and label.y > 100
