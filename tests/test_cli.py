"""The command line's small edges: help without arguments, did-you-mean, no abbreviations."""

from __future__ import annotations

import pytest

from manifold_search.cli import main
from manifold_search.registry import COMMANDS


def _cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_no_arguments_prints_help(capsys):
    code, out, err = _cli(capsys, [])
    assert code == 0 and err == ""
    assert out.startswith("usage: manifold-search")
    for name, entry in COMMANDS.items():  # every command with its one-line description
        assert name in out and entry.description.split()[0] in out


def test_unknown_command_gets_did_you_mean(capsys):
    code, _, err = _cli(capsys, ["rnu", "studies/quickstart.toml"])
    assert code == 2 and err.count("\n") == 1
    assert "unknown command 'rnu'; did you mean run?" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "hint"), [
    (["run", "studies/quickstart.toml", "--trail", "5"], "did you mean --trials?"),
    (["run", "studies/quickstart.toml", "--worker=2"], "did you mean --workers?"),
    (["report", "runs/x", "--baselin", "b.json"], "did you mean --baseline?"),
    (["benchmark", "--sampler", "tpe"], "did you mean --samplers?"),
])  # fmt: skip
def test_mistyped_options_are_not_abbreviations_and_get_a_hint(capsys, argv, hint):
    code, _, err = _cli(capsys, argv)
    assert code == 2 and err.count("\n") == 1, err
    assert "unrecognized arguments" in err and hint in err and "Traceback" not in err


def test_an_unrelated_option_gets_no_hint(capsys):
    code, _, err = _cli(capsys, ["run", "studies/quickstart.toml", "--zzzzzz"])
    assert code == 2 and "unrecognized arguments: --zzzzzz" in err and "did you mean" not in err


def test_python_dash_m_prints_usage_errors_in_one_line(tmp_path):
    """``python -m manifold_search.cli`` runs as __main__; its commands' errors still are
    one line and exit 2, not a traceback."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "manifold_search.cli", "explore",
                             str(tmp_path / "nowhere")], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("manifold-search explore: error:") and "no such directory" in result.stderr
