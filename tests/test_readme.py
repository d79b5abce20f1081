"""The README's Python blocks run as written, on a small budget (digits, 1 epoch, 5 trials)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _small(code: str) -> str:
    code = code.replace('get_space("mnist1d")', 'get_space("digits", epochs=1, probe_size=32)')
    return re.sub(r"n_trials=\d+", "n_trials=5", code)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(tmp_path, index):
    code = _small(BLOCKS[index]) + "\nprint('trials', len(study.trials))\n"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "trials 5" in result.stdout
    rerun = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)  # the named study resumes, not duplicates
    assert rerun.returncode == 0 and "trials 10" in rerun.stdout, rerun.stderr[-2000:]


def test_readme_has_the_blocks_this_test_runs():
    assert len(BLOCKS) >= 2 and all("create_study" in block for block in BLOCKS)
