"""Pruning and refining with the manifold: a pruned trial leaves its network; [refine] runs."""

from __future__ import annotations

import optuna

from manifold_search._attrs import PRUNED_AT, RECORD
from manifold_search.cli import main

CONFIG = """
[study]
name = "pruned"
n_trials = 8
seed = 0
output_dir = "{out}"

[space]
name = "digits"
epochs = 3
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 3

[pruner]
name = "median"
n_startup_trials = 2
n_warmup_steps = 0
"""


def test_pruned_trials_record_their_network_and_the_metric_is_named(tmp_path, capsys):
    config = tmp_path / "p.toml"
    config.write_text(CONFIG.format(out=tmp_path / "out"))
    assert main(["run", str(config), "--no-progress", "--no-report"]) == 0, capsys.readouterr().err
    study = optuna.load_study(study_name="pruned", storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    assert study.metric_names == ["validation accuracy"]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the median pruner stopped no trial; the test needs one"
    for trial in pruned:
        assert trial.user_attrs.get(RECORD), f"pruned trial {trial.number} recorded no network"
        assert 1 <= trial.user_attrs[PRUNED_AT] < 3

    from manifold_search import NetworkManifold

    manifold = NetworkManifold.from_study(study)
    assert {t.number for t in pruned} <= set(manifold.keys)


def test_pruner_errors_are_one_line(tmp_path, capsys):
    config = tmp_path / "p.toml"
    config.write_text(CONFIG.format(out=tmp_path / "out").replace('name = "median"', 'name = "medain"'))
    assert main(["run", str(config), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "did you mean median" in err and err.count("\n") == 1
    config.write_text(CONFIG.format(out=tmp_path / "out").replace("n_warmup_steps = 0",
                                                                  "n_warmup = 0"))
    assert main(["run", str(config), "--no-progress"]) == 2
    assert "[pruner] median rejected its options" in capsys.readouterr().err


REFINE = """
[study]
name = "refined"
n_trials = 4
seed = 0
output_dir = "{out}"

[space]
name = "digits"
epochs = 2
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 2

[refine]
top = 1
sparsity = [0.5, 0.8]
methods = ["fip", "magnitude"]
steps = 60
"""


def test_run_with_a_refine_section_writes_the_sparsity_table(tmp_path, capsys):
    config = tmp_path / "r.toml"
    config.write_text(REFINE.format(out=tmp_path / "out"))
    assert main(["run", str(config), "--no-progress"]) == 0, capsys.readouterr().err
    assert "refine:" in capsys.readouterr().out
    table = (tmp_path / "out" / "report" / "refine.md").read_text()
    for needle in ("fip", "magnitude", "0.5", "0.8"):
        assert needle in table, table


def test_pruned_trials_with_a_report_count_towards_the_start_up():
    """Under Hyperband most trials are pruned: counting complete trials alone kept the
    sampler random for whole studies (issue 12's benchmark)."""
    import optuna

    from manifold_search._history import gather

    study = optuna.create_study(direction="maximize")
    for k in range(6):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        if k < 2:
            study.tell(trial, 0.5)
            continue
        if k < 5:
            trial.report(0.1 * k, 0)  # pruned after one report: it tells something
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert gather(study, 5) is not None  # 2 complete + 3 pruned with a report
    assert gather(study, 6) is None  # the pruned trial without a report does not count
