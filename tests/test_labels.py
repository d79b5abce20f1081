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


def test_a_label_next_to_another_star_gets_a_leader_line() -> None:
    """Stars 20 px apart (not merged): each label is pushed out and drawn with a line to
    its own star, so that a label between two stars is not read as the other's."""
    anchors = [(100.0, 100.0), (112.0, 116.0)]
    labels = label_layout(anchors, ["#15 best", "#27"], measure, offset=14.0, keep_clear=14.0,
                          merge_radius=14.0)  # fmt: skip
    assert len(labels) == 2 and all(label.leader for label in labels)
    _assert_clear(labels, anchors, 14.0)
    (alone,) = label_layout([(300.0, 300.0)], ["#1"], measure)
    assert not alone.leader


def test_labels_avoid_other_points_where_there_is_room() -> None:
    dots = [(100.0 + dx, 100.0 + dy) for dx in (-25, -12, 0, 12, 25) for dy in (12, 25)]
    (label,) = label_layout([(100.0, 100.0)], ["#1 best"], measure, dots=dots, dot_radius=6.0)
    for dot in dots:
        x0, y0, x1, y1 = label.box()
        assert math.hypot(max(x0 - dot[0], 0, dot[0] - x1), max(y0 - dot[1], 0, dot[1] - y1)) >= 6.0
    assert label.y < 100  # the free side: below the star (y up), the dots are above it
