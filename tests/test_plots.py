"""The report's plots answer their question (issue 12): the history zooms on the best
values with the baseline told apart, and best-trial labels on manifold.png do not overlap."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from matplotlib.lines import Line2D
from matplotlib.text import Annotation
from optuna.distributions import CategoricalDistribution, FloatDistribution

from manifold_search.study.data import FEATURES, Baseline, StudyData
from manifold_search.study.plots import history_figure, plot_manifold, zoom_limits

#: A quickstart-like MNIST-1D history: a random start-up of 10 with a wide spread, then
#: values between 0.94 and 0.975 (the part the full axis flattens).
VALUES = [0.33, 0.78, 0.54, 0.49, 0.66, 0.902, 0.22, 0.53, 0.08, 0.79,
          0.925, 0.95, 0.969, 0.965, 0.968, 0.10, 0.79, 0.943, 0.949, 0.956,
          0.40, 0.968, 0.944, 0.445, 0.970, 0.966, 0.90, 0.972, 0.938, 0.81]  # fmt: skip
RANDOM = [0.33, 0.78, 0.54, 0.49, 0.66, 0.902, 0.22, 0.53, 0.08, 0.79,
          0.60, 0.968, 0.41, 0.88, 0.93, 0.71, 0.26, 0.95, 0.66, 0.974]  # fmt: skip


def test_zoom_shows_the_top_values_readably() -> None:
    lo, hi = zoom_limits(VALUES, [RANDOM], maximize=True, startup=10)
    assert hi - lo < 0.1  # the full axis spans 0.08-0.974
    assert lo < 0.902  # the start-up best (0.902, above the median 0.901): the zoom starts there
    assert lo > 0.88 and hi > 0.974  # both curves' best values are inside
    # the floor never takes in the worse half, never starts above the top quarter
    low_start = [0.1] * 10 + VALUES[10:]  # a poor start-up: the median is the floor
    median, top = np.median(low_start), max(low_start)
    assert zoom_limits(low_start, [], True, 10)[0] == pytest.approx(median - 0.12 * (top - median))
    high_start = [0.99] + VALUES[1:]  # the best came first: the top quarter is the floor
    q75, top = np.percentile(high_start, 75), 0.99
    assert zoom_limits(high_start, [], True, 10)[0] == pytest.approx(q75 - 0.12 * (top - q75))


def test_zoom_mirrors_when_minimizing_and_survives_constant_values() -> None:
    lo, hi = zoom_limits([1 - v for v in VALUES], [[1 - v for v in RANDOM]], maximize=False,
                         startup=10)  # fmt: skip
    lo_max, hi_max = zoom_limits(VALUES, [RANDOM], maximize=True, startup=10)
    assert np.allclose([lo, hi], [1 - hi_max, 1 - lo_max], atol=0.025)
    lo, hi = zoom_limits([0.5] * 8, [], True, None)
    assert lo < 0.5 < hi


def _curves(ax) -> dict[str, Line2D]:
    return {line.get_label(): line for line in ax.get_lines() if line.get_label().startswith("best")}


def test_history_has_a_zoomed_panel_and_a_distinct_baseline() -> None:
    baseline = Baseline("random search (quickstart-random)", RANDOM, "study 'quickstart-random'")
    fig = history_figure(VALUES, [baseline], maximize=True, label="validation accuracy",
                         sampler="manifold", startup=10, title="t")  # fmt: skip
    full, zoom = fig.axes[:2]
    assert full.get_ylim()[1] - full.get_ylim()[0] > 0.8
    assert zoom.get_ylim() == zoom_limits(VALUES, [RANDOM], True, 10)
    for ax in (full, zoom):
        curves = _curves(ax)
        ours = curves["best so far, manifold (this study)"]
        theirs = curves["best so far, random search (quickstart-random)"]
        assert ours.get_color() != theirs.get_color()
        assert ours.get_linestyle() == "-" and theirs.get_linestyle() not in ("-", "None")
        assert ours.get_linewidth() > theirs.get_linewidth()  # seen under the dashes
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "best so far, random search (quickstart-random)" in legend


def _study_data(coords: np.ndarray, values: list[float]) -> StudyData:
    study = optuna.create_study(direction="maximize")
    dists = {"lr": FloatDistribution(1e-6, 0.1, log=True), "family": CategoricalDistribution(["cnn", "mlp"])}
    for i, value in enumerate(values):
        study.add_trial(optuna.trial.create_trial(
            params={"lr": 0.001 * (i + 1), "family": "cnn" if i % 2 else "mlp"},
            distributions=dists, value=value))  # fmt: skip
    trials = study.get_trials()
    rng = np.random.default_rng(0)
    return StudyData(study=study, meta={}, label="validation accuracy", maximize=True,
                     trials=trials, complete=trials, keys=[t.number for t in trials], coords=coords,
                     features={t.number: {n: float(rng.uniform()) for n, _, _ in FEATURES}
                               for t in trials})  # fmt: skip


def test_manifold_labels_of_near_best_trials_do_not_overlap(tmp_path) -> None:
    """Three best trials close together in the layout (two on top of each other)."""
    rng = np.random.default_rng(1)
    coords = np.vstack([[[5.0, 5.0], [5.0, 5.0], [5.5, 4.6]], rng.uniform(0, 10, (12, 2))])
    values = [0.97, 0.965, 0.96] + list(rng.uniform(0.3, 0.9, 12))
    data = _study_data(coords, values)
    path = tmp_path / "manifold.png"
    plot_manifold(data, path)
    assert path.stat().st_size > 10_000
    fig = _last_figure(data, tmp_path)
    ax = fig.axes[0]
    notes = [c for c in ax.get_children() if isinstance(c, Annotation) and c.get_text().startswith("#")]
    texts = sorted(n.get_text() for n in notes)
    assert "#0 best, #1" in texts and "#2" in texts  # coincident stars share one label
    renderer = fig.canvas.get_renderer()
    boxes = [n.get_window_extent(renderer) for n in notes]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    frame = ax.get_window_extent(renderer)
    assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1) for b in boxes)


def _last_figure(data: StudyData, tmp_path):
    """plot_manifold's figure, drawn (it is not returned: draw it again into a file)."""
    import manifold_search.study.plots as plots

    made = []
    original = plots._figure

    def keep(*args):
        fig = original(*args)
        made.append(fig)
        return fig

    plots._figure = keep
    try:
        plots.plot_manifold(data, tmp_path / "again.png")
    finally:
        plots._figure = original
    return made[-1]


def test_report_text_names_the_zoom_range() -> None:
    from manifold_search._format import number
    from manifold_search.study.report import _history_text

    data = _study_data(np.zeros((len(VALUES), 2)), VALUES)
    data.meta = {"sampler": {"name": "manifold", "options": {"n_startup_trials": 10}}}
    baseline = Baseline("random search (r)", RANDOM, "study 'r'")
    text = "\n".join(_history_text(data, [baseline], None))
    lo, hi = zoom_limits(VALUES, [RANDOM], True, 10)
    assert f"({number(lo, significant=4)} to {number(hi, significant=4)}:" in text
    assert "random-search baseline dashed" in text


def test_equal_importances_are_listed_by_name() -> None:
    """Two parameters that always take the same value are equally important; the report
    lists them the same way in every process (Optuna's tie order follows the hash seed)."""
    from manifold_search.study.data import importances

    study = optuna.create_study()
    rng = np.random.default_rng(0)
    dist = FloatDistribution(0, 1)
    for v, noise in rng.uniform(size=(30, 2)):
        study.add_trial(optuna.trial.create_trial(
            params={"zeta": v, "alpha": v, "mid": noise}, value=v + 0.1 * noise,
            distributions={"zeta": dist, "alpha": dist, "mid": dist}))  # fmt: skip
    values, note = importances(study)
    assert note is None and values["alpha"] == values["zeta"]
    assert list(values) == sorted(values, key=lambda k: (-values[k], k))
    assert list(values).index("alpha") < list(values).index("zeta")
