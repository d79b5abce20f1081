"""A study-level time limit, and the running trial's epoch shown while it trains."""

from __future__ import annotations

import optuna
import pytest

from manifold_search.cli import main
from manifold_search.study.config import ConfigError, load_config
from manifold_search.study.runner import _Progress, running_epochs
from tests.test_runner import load, run_cli, states, write_config


def test_timeout_stops_starting_trials_and_a_rerun_continues(tmp_path, capsys):
    config = write_config(tmp_path, n_trials=6)
    code, out, err = run_cli(capsys, ["run", str(config), "--timeout", "0.01", "--no-progress"])
    assert code == 0, err
    # the first trial starts before the limit and finishes; no second one starts
    assert states(load(tmp_path)) == {"COMPLETE": 1}
    assert "stopped at the timeout" in err and "continue with: manifold-search run" in err
    code, out, err = run_cli(capsys, ["run", str(config), "--no-progress"])
    assert code == 0 and states(load(tmp_path)) == {"COMPLETE": 6}


def test_timeout_in_the_config_and_bad_values(tmp_path, capsys):
    config = write_config(tmp_path)
    text = config.read_text().replace("seed = 0", "seed = 0\ntimeout = 120")
    config.write_text(text)
    assert load_config(config).study.timeout == 120.0
    config.write_text(text.replace("timeout = 120", "timeout = -1"))
    with pytest.raises(ConfigError, match="timeout must be a positive number"):
        load_config(config)
    config.write_text(text.replace("timeout = 120", 'timeout = "1h"'))
    with pytest.raises(ConfigError, match="timeout must be seconds"):
        load_config(config)
    config.write_text(text)
    assert main(["run", str(config), "--timeout", "0"]) == 2
    assert "--timeout must be a positive number" in capsys.readouterr().err


def test_running_trials_show_their_reported_epochs():
    study = optuna.create_study()
    study.optimize(lambda t: 0.5, n_trials=1)
    trial = study.ask()
    assert running_epochs(study) == {1: 0}
    trial.report(0.1, 0)
    trial.report(0.2, 1)
    assert running_epochs(study) == {1: 2}
    progress = _Progress.__new__(_Progress)
    progress.epochs, progress.best_text = 15, "best 0.5 (trial 0)"
    assert progress._postfix(running_epochs(study)) == "best 0.5 (trial 0) · trial 1 epoch 2/15"
