"""``manifold-search check``: a real study, a record broken on disk, the command run for real."""

import subprocess
import sys

from test_bad_records import _record_file, _study, _truncate


def _check(tmp_path, *extra):
    command = [sys.executable, "-m", "manifold_search.cli", "check", str(tmp_path),
               "--storage", f"sqlite:///{tmp_path / 'study.db'}", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_check_lists_then_drops_a_broken_record(tmp_path):
    study = _study(tmp_path / "study.db")
    values = [t.value for t in study.trials]
    _truncate(_record_file(study, 2, tmp_path / "study.db.artifacts"))

    found = _check(tmp_path)
    assert found.returncode == 1, found.stderr
    assert "trial 2:" in found.stdout and "--drop" in found.stdout

    dropped = _check(tmp_path, "--drop")
    assert dropped.returncode == 0, dropped.stderr
    assert "1 broken records dropped" in dropped.stdout

    again = _check(tmp_path)
    assert again.returncode == 0 and "every record readable" in again.stdout
    assert [t.value for t in _study(tmp_path / "study.db", n_trials=0).trials] == values


def test_check_of_a_missing_folder_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "manifold_search.cli", "check",
                             str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such directory" in result.stderr
