"""The benchmark with a pruner on live problems, and time-to-target statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from manifold_search.benchmark import time_to_target
from manifold_search.cli import main


def test_time_to_target_reads_the_first_trial_at_the_references_best():
    # 2 samplers x 3 seeds x 4 trials; reference = sampler 0.
    regret = np.array([
        [[0.5, 0.3, 0.3, 0.2], [0.4, 0.4, 0.1, 0.1], [0.3, 0.3, 0.3, 0.3]],
        [[0.2, 0.2, 0.1, 0.1], [0.4, 0.4, 0.4, 0.4], [0.3, 0.3, 0.3, 0.3]],
    ])
    seconds = np.tile(np.arange(1.0, 5.0), (2, 3, 1))
    steps = np.tile(np.array([3.0, 6, 9, 12]), (2, 3, 1))
    doc = time_to_target.table(regret, seconds, steps, ["ref", "other"], "ref")
    ref, other = doc["rows"]
    # The reference reaches its own best at trials 4, 3 and 1 (seconds 4, 3, 1).
    assert ref["reached"] == 3 and ref["median_seconds"] == 3.0
    # The other reaches 0.2 at trial 1 (faster), never reaches 0.1 (slower), ties seed 2.
    assert other["reached"] == 2
    assert other["seconds"] == {"wins": 1, "ties": 1, "losses": 1, "p_sign": 0.75}
    assert other["steps"]["wins"] == 1 and other["steps"]["losses"] == 1
    assert other["median_steps"] == 3.0


def test_median_is_unknown_when_half_the_seeds_never_reach():
    assert time_to_target._median(np.array([1.0, np.inf])) is None
    assert time_to_target._median(np.array([1.0, 2.0, np.inf])) == 2.0


def test_time_to_target_needs_costs():
    nan = np.full((1, 2, 3), np.nan)
    assert time_to_target.table(np.zeros((1, 2, 3)), nan, nan, ["a"], "a") is None


@pytest.mark.parametrize("pruner, needle", [
    ("hyperbnd", "did you mean"),
    ("median,n_startup_trials=x", "n_startup_trials"),
])
def test_bad_pruner_is_one_line_with_exit_2(capsys, tmp_path, pruner, needle):
    code = main(["benchmark", "--live", "digits,epochs=1", "--pruner", pruner,
                 "--samplers", "random", "--seeds", "1", "--trials", "2", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1


def test_tables_refuse_a_pruner(capsys, tmp_path):
    code = main(["benchmark", "--problem", "nasbench201-cifar10", "--pruner", "hyperband",
                 "--samplers", "random", "--seeds", "1", "--trials", "2", "--out", str(tmp_path)])
    assert code == 2 and "one value per trial" in capsys.readouterr().err


def test_live_benchmark_with_a_pruner_records_pruned_networks(tmp_path, capsys):
    out = tmp_path / "b"
    args = ["benchmark", "--live", "digits,epochs=3,probe_size=32",
            "--pruner", "median,n_startup_trials=2,n_warmup_steps=0",
            "--samplers", "tpe,manifold", "--sampler-kwargs", "manifold:n_startup_trials=3",
            "--seeds", "1", "--trials", "8", "--jobs", "1", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    runs = {x: json.loads((out / "runs" / x / "seed-0000.json").read_text())
            for x in ("tpe", "manifold")}
    for run in runs.values():
        assert run["pruner"] == {"name": "median",
                                 "options": {"n_startup_trials": 2, "n_warmup_steps": 0}}
        assert run["failed_trials"] == 0
        # cumulative costs: elapsed seconds and reported epochs never decrease
        assert np.all(np.diff(run["steps"]) >= 0) and np.all(np.diff(run["elapsed_seconds"]) >= 0)
        pruned = [i for i, s in enumerate(run["states"]) if s == "PRUNED"]
        full = [i for i, s in enumerate(run["states"]) if s == "COMPLETE"]
        assert full
        steps = np.diff([0, *run["steps"]])
        assert all(steps[i] == 3 for i in full) and all(1 <= steps[i] <= 3 for i in pruned)
    assert any(s == "PRUNED" for run in runs.values() for s in run["states"])
    report = (out / "report.md").read_text()
    assert "## Time to reach tpe's best" in report
    # the same directory refuses runs without the pruner: results would mix
    args_without = args[:3] + args[5:]
    assert main(args_without) == 2
    assert "pruner" in capsys.readouterr().err
