"""Several processes opening one new SQLite study file at the same moment.

Optuna creates its tables on first open; two processes doing it together made the
slower one fail ("UNIQUE constraint failed: alembic_version.version_num" or "table
... already exists"), which stopped the second of two `run` commands started
together. Eight processes, held at a barrier until all have imported, open the
file at once: every one must succeed. Before the fix, 3 or 4 of 8 processes failed
in each of 5 rounds started by the clock, and this test failed 1 of 2 runs (2 of 8
processes) on a loaded 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OPEN = """
import sys, time
from pathlib import Path
from manifold_search.study.storage import open_storage
folder = Path(sys.argv[1])
(folder / f"ready-{sys.argv[2]}").touch()
while not (folder / "go").exists():
    time.sleep(0.001)
open_storage(f"sqlite:///{folder / 'study.db'}")
"""


def test_processes_opening_a_new_database_together_all_succeed(tmp_path):
    n = 8
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(tmp_path), str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(n)]  # fmt: skip
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < n:
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    (tmp_path / "go").touch()
    errors = []
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            errors.append(stderr.strip().splitlines()[-1])
    assert errors == []
