"""Workers that die, and a parent that is told to stop: real processes, real signals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from test_runner import TESTS, _wait_for_running, load, states, write_config

from manifold_search._attrs import ERROR, WORKER


def _worker_pid(db: Path, number: int) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "select a.value_json from trial_user_attributes a join trials t "
            "on a.trial_id = t.trial_id where t.number = ? and a.key = ?", (number, WORKER)
        ).fetchone()
    return int(json.loads(row[0])["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as handle:  # a zombie is not alive
        return handle.read().split(")")[-1].split()[0] != "Z"


def _run_with_slow_trial(tmp_path: Path, number: int):
    config = write_config(tmp_path, n_trials=5, space="slow_space:SlowDigits")
    proc = _spawn_workers(config, number)
    db = tmp_path / "out" / "study.db"
    _wait_for_running(db, number, proc, timeout=180)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the worker record is written just after the trial starts
        try:
            return config, proc, _worker_pid(db, number)
        except (TypeError, sqlite3.Error):
            time.sleep(0.2)
    raise AssertionError("the slow trial has no worker record")


def _spawn_workers(config: Path, number: int) -> subprocess.Popen:
    env = {**os.environ, "SLOW_TRIAL": str(number), "SLOW_SECONDS": "120",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "manifold_search.cli", "run", str(config), "--no-progress",
         "--no-report", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_a_killed_worker_is_reported_and_the_run_exits_nonzero(tmp_path):
    _, proc, pid = _run_with_slow_trial(tmp_path, 2)
    os.kill(pid, signal.SIGKILL)
    _, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 1, stderr
    assert "was killed by SIGKILL" in stderr and "resume with" in stderr
    study = load(tmp_path)
    assert states(study).get("RUNNING") == 1  # the dead worker's trial, failed on resume


def test_sigterm_to_run_stops_every_worker_and_stays_resumable(tmp_path):
    config, proc, pid = _run_with_slow_trial(tmp_path, 1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "resume with" in stderr
    time.sleep(1)
    assert not _alive(pid), "a worker outlived its parent"
    study = load(tmp_path)
    assert study.trials[1].state.name == "FAIL"
    assert "interrupted" in study.trials[1].user_attrs[ERROR]
    assert states(study).get("RUNNING", 0) == 0


def _trials_by_worker(study) -> dict[int, list]:
    by_pid: dict[int, list] = {}
    for t in study.trials:
        by_pid.setdefault(t.user_attrs[WORKER]["pid"], []).append(t)
    return by_pid


def test_two_run_commands_started_together_get_their_own_seeds(tmp_path):
    """Two `run` processes on one SQLite study, each holding its first trial until the
    other has started one: seeds differ, and no configuration is trained twice."""
    config = write_config(tmp_path, n_trials=4, space="slow_space:SlowDigits")
    env = {**os.environ, "WAIT_FOR_TRIALS": "2",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, "-m", "manifold_search.cli", "run", str(config), "--no-progress", "--no-report"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]  # fmt: skip
    for proc in procs:
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
    study = load(tmp_path)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) >= 4
    by_pid = _trials_by_worker(study)
    assert len(by_pid) == 2, "both run commands trained"
    seeds = {pid: {t.user_attrs[WORKER]["seed"] for t in trials} for pid, trials in by_pid.items()}
    assert all(len(s) == 1 for s in seeds.values()), seeds  # one seed per process
    assert len({s.pop() for s in seeds.values()}) == 2, "two run commands shared a seed"
    configs = [json.dumps(t.params, sort_keys=True) for t in done]
    assert len(set(configs)) == len(configs), "a configuration was trained twice"


def test_samplers_set_up_at_the_same_moment_get_their_first_trials_seeds(tmp_path):
    """The rule itself, without process timing: two workers that both saw an empty
    study (the case a count of stored trials cannot tell apart) still differ."""
    import optuna

    from manifold_search.study.seeds import FirstTrialSeeded, worker_seed

    storage = f"sqlite:///{tmp_path / 'seeds.db'}"
    optuna.create_study(study_name="s", storage=storage)
    built: list[int] = []

    def build(seed: int):
        built.append(seed)
        return optuna.samplers.RandomSampler(seed=seed)

    workers = [optuna.load_study(study_name="s", storage=storage, sampler=FirstTrialSeeded(build, 7))
               for _ in range(2)]  # fmt: skip
    trials = [study.ask() for study in workers]  # both set up before either has a trial
    assert [t.number for t in trials] == [0, 1]
    assert built == [7, worker_seed(7, 1)] and built[0] != built[1]
    assert [s.sampler.worker_seed for s in workers] == built
    xs = [t.suggest_float("x", 0, 1) for t in trials]
    assert xs[0] != xs[1]  # their first random draws differ


def test_an_ownerless_trial_is_stale_only_once_it_is_not_fresh(tmp_path):
    """A RUNNING trial with no worker record may be another run's, created a moment ago:
    a run starting beside it must not fail it; an old one is a killed run's."""
    import optuna

    from manifold_search.study.workers import fail_stale_trials

    db = tmp_path / "fresh.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study = optuna.create_study(study_name="s", storage=storage)
    study.ask()  # RUNNING, no worker record yet
    assert fail_stale_trials(study, storage, workers=1) == []
    assert states(study) == {"RUNNING": 1}
    with sqlite3.connect(db) as conn:
        conn.execute("update trials set datetime_start = '2000-01-01 00:00:00.000000'")
    assert fail_stale_trials(study, storage, workers=1) == [0]
    assert states(study) == {"FAIL": 1}


def test_an_interrupt_while_optuna_records_the_result_stays_an_interrupt(tmp_path):
    """Ctrl-C inside the sampler's after_trial: Optuna 5.0 turns it into UnboundLocalError
    (a traceback and exit 1 from `run`); the loop raises KeyboardInterrupt instead, and the
    trial keeps the value it finished with (Optuna writes the state after after_trial)."""
    import optuna
    import pytest

    from manifold_search.study.workers import trial_loop, worker_record

    class InterruptedAfterTrial(optuna.samplers.RandomSampler):
        def after_trial(self, study, trial, state, values):
            raise KeyboardInterrupt

    def objective(trial):
        trial.set_user_attr(WORKER, worker_record())
        return trial.suggest_float("x", 0, 1)

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'i.db'}", sampler=InterruptedAfterTrial())
    with pytest.raises(KeyboardInterrupt):
        trial_loop(study, objective, target=3)
    (trial,) = study.trials
    assert trial.state.name == "COMPLETE" and trial.value == trial.params["x"]
