"""The benchmark harness cleans up after itself: threads, temporary folders, repeated warnings.

Real runs: ``--threads`` read back inside an in-process run, a benchmark process
SIGTERMed mid-run on the recorded MNIST-1D table (its temporary record folders
counted in a TMPDIR of the test's own), and a GPSampler run whose per-proposal
warning is counted on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import torch
from threadpoolctl import threadpool_info

from manifold_search._attrs import TEST_VALUE
from manifold_search.benchmark import Problem, SamplerSpec, run_benchmark
from manifold_search.representations import default_artifact_store, release_artifact_store

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT_DIRS = "manifold_search_artifacts_*"


def _blas_threads() -> int:
    return max((pool["num_threads"] for pool in threadpool_info()), default=0)


class ThreadCount(Problem):
    """Reports the torch threads of the process running the trial (and BLAS's as test value)."""

    name = "thread-count-test"
    direction = "maximize"
    optimum = 64.0

    def objective(self, seed):
        def objective(trial: optuna.Trial) -> float:
            trial.suggest_int("x", 0, 3)
            trial.set_user_attr(TEST_VALUE, float(_blas_threads()))
            return float(torch.get_num_threads())

        return objective


def test_threads_hold_for_a_run_in_this_process(tmp_path):
    before, blas_before = torch.get_num_threads(), _blas_threads()
    threads = 3 if before != 3 else 4
    outcome = run_benchmark(f"{__name__}:ThreadCount", [SamplerSpec("random", "random")], [0], 3,
                            tmp_path, jobs=1, threads=threads, progress=False)  # fmt: skip
    assert outcome.finished == [("random", 0)]
    run = json.loads((tmp_path / "runs" / "random" / "seed-0000.json").read_text())
    assert run["values"] == [threads] * 3  # torch inside the run
    if blas_before:  # a BLAS/OpenMP pool is loaded: it was limited too
        assert run["test"] == [threads] * 3
    assert torch.get_num_threads() == before and _blas_threads() == blas_before  # restored


def test_release_removes_the_in_memory_studys_folder():
    study = optuna.create_study()
    folder = Path(default_artifact_store(study)._base_path)
    assert folder.is_dir()
    release_artifact_store(study)
    assert not folder.exists()
    assert Path(default_artifact_store(study)._base_path).is_dir()  # a fresh one if asked again
    release_artifact_store(study)


def _benchmark(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "PYTHONPATH": str(ROOT)}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "manifold_search.cli", "benchmark", "--problem", "mnist1d-table",
         "--jobs", "1", "--no-progress", "--out", str(tmp_path / "out"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip


def test_sigterm_mid_run_keeps_finished_runs_and_removes_temporary_folders(tmp_path):
    proc = _benchmark(tmp_path, "--samplers", "manifold", "--seeds", "3", "--trials", "20")
    first = tmp_path / "out" / "runs" / "manifold" / "seed-0000.json"
    deadline = time.monotonic() + 300
    while not (first.exists() and list((tmp_path / "tmp").glob(ARTIFACT_DIRS))):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the second run never started"
        time.sleep(0.05)
    # the first run's folder went when it ended; only the running one is there
    assert len(list((tmp_path / "tmp").glob(ARTIFACT_DIRS))) == 1
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: " in stderr  # (Optuna logs the interrupted trial with its traceback)
    assert first.exists()
    assert not (tmp_path / "out" / "runs" / "manifold" / "seed-0002.json").exists()
    assert list((tmp_path / "tmp").glob(ARTIFACT_DIRS)) == []


def test_gp_sampler_warning_shown_once_per_run(tmp_path):
    proc = _benchmark(tmp_path, "--samplers", "gp", "--seeds", "1", "--trials", "15")
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    repeated = [line for line in stderr.splitlines() if "is sampled independently" in line]
    assert len(repeated) == 1, "\n".join(repeated)
    assert "shown once per run" in repeated[0]


def _stat(pid: int) -> tuple[str, int] | None:
    """``(state, parent pid)`` of a process from /proc (Linux), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (zombies count as ended)."""
    return [pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"]


def _children(pid: int) -> list[int]:
    """Live child processes of ``pid``."""
    stats = {int(p.name): _stat(int(p.name)) for p in Path("/proc").iterdir() if p.name.isdigit()}
    return [c for c, stat in stats.items() if stat is not None and stat[0] != "Z" and stat[1] == pid]


def test_sigterm_to_the_parent_alone_stops_its_workers(tmp_path):
    """``kill PID`` (a scheduler's stop) reaches only the parent, not the process group:
    the workers' runs in flight must stop too, not train on to their end."""
    proc = _benchmark(tmp_path, "--samplers", "manifold", "--seeds", "4", "--trials", "300",
                      "--jobs", "2")  # fmt: skip
    deadline = time.monotonic() + 300
    while len(list((tmp_path / "tmp").glob(ARTIFACT_DIRS))) < 2:  # both workers in a run
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "two runs never ran at once"
        time.sleep(0.05)
    workers = [c for c in _children(proc.pid)
               if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(workers) == 2
    proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - start < 30, "the parent waited for its workers' runs to end"
    assert _alive(workers) == []
    assert list((tmp_path / "out" / "runs" / "manifold").glob("seed-*.json")) == []
    assert list((tmp_path / "tmp").glob(ARTIFACT_DIRS)) == []
