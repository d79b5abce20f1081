"""Options that cannot be honoured as given are clamped with one warning, or refused.

Each case asks for more than the data allows and checks that the warning names the
option, the value asked and the value used, once per process; nonsense values
(fewer than one neighbour, evaluation every 0 steps) are refused in one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from manifold_search.embedding import phate_embedding
from manifold_search.features import hierarchy_features
from manifold_search.geometry import affinity, pairwise_distances
from manifold_search.refine.schedule import Recorder
from search_spaces.digits import DigitsSpace

ROOT = Path(__file__).resolve().parents[1]


def _said(action) -> list[str]:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        action()
    return [str(w.message) for w in seen if issubclass(w.category, UserWarning)]


def test_probe_larger_than_the_validation_set_is_said_once():
    space = DigitsSpace(epochs=1, probe_size=999)
    said = _said(space.probe)
    assert said == ["probe_size = 999 cannot be used with the 270 validation inputs of digits; using 270"]
    assert len(space.probe().labels) == 270
    assert _said(DigitsSpace(epochs=1, probe_size=999).probe) == []  # once per process
    assert _said(DigitsSpace(epochs=1, probe_size=64).probe) == []  # nothing to say


def test_more_neighbours_than_points_is_said_and_none_refused():
    d = pairwise_distances(np.random.default_rng(0).normal(size=(6, 3)))
    said = _said(lambda: affinity(d, bandwidth="knn", knn=40))
    assert said == ["knn = 40 cannot be used with 6 probe points; using 5"]
    np.testing.assert_allclose(affinity(d, bandwidth="knn", knn=5), affinity(d, bandwidth="knn", knn=40))
    with pytest.raises(ValueError, match="knn must be at least 1, got 0"):
        affinity(d, bandwidth="knn", knn=0)


def test_embedding_knn_above_the_network_count_is_said():
    d = pairwise_distances(np.random.default_rng(1).normal(size=(7, 4)))
    said = _said(lambda: phate_embedding(d, knn=30))
    assert said == ["knn = 30 cannot be used to embed 7 networks; using 5"]
    with pytest.raises(ValueError, match="knn must be at least 1"):
        phate_embedding(d, knn=0)


def test_ward_n_top_above_the_merges_is_said():
    x = np.random.default_rng(2).normal(size=(8, 3))
    labels = np.arange(8) % 2
    said = _said(lambda: hierarchy_features(x, labels, n_top=50))
    assert said == ["n_top = 50 cannot be used with 8 points (at most n - 1 merges); using 7"]
    with pytest.raises(ValueError, match="n_top must be at least 1"):
        hierarchy_features(x, labels, n_top=0)


def test_eval_every_below_one_is_refused():
    with pytest.raises(ValueError, match="eval_every must be at least 1, got 0"):
        Recorder(None, None, eval_every=0)


def test_run_says_the_clamped_probe_on_stderr(tmp_path):
    config = tmp_path / "big-probe.toml"
    config.write_text(f"""
[study]
name = "probe"
n_trials = 1
seed = 0
output_dir = "{tmp_path / 'out'}"

[space]
name = "digits"
epochs = 1
probe_size = 5000

[sampler]
name = "random"
""")
    result = subprocess.run(
        [sys.executable, "-m", "manifold_search.cli", "run", str(config), "--no-progress", "--no-report"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if "probe_size = 5000" in line]
    assert said and all("using 270" in line for line in said), result.stderr
