"""Export a study's trial to a folder and load it back (digits, tiny real budget)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import optuna
import pytest
import torch

from manifold_search.refine.export import export_trial, load_exported, trial_model
from manifold_search.refine.weights import kept_trials
from manifold_search.study.config import load_config
from manifold_search.study.plan import make_plan
from manifold_search.study.runner import run_study
from search_spaces import get_space

CONFIG = """
[study]
name = "tiny"
n_trials = 3
seed = 0
output_dir = "{out}"

[space]
name = "digits"
epochs = 2
probe_size = 32
keep_weights = {keep}

[sampler]
name = "random"
"""


def _run(tmp_path: Path, keep: str) -> optuna.Study:
    path = tmp_path / "tiny.toml"
    path.write_text(CONFIG.format(out=tmp_path / "out", keep=keep))
    plan = make_plan(load_config(path))
    run_study(plan, progress=False, report=False, log=lambda m: None)
    return optuna.load_study(study_name="tiny", storage=plan.storage_url)


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """A 3-trial digits study whose best trial alone kept its weights, and its run folder."""
    tmp = tmp_path_factory.mktemp("kept")
    return _run(tmp, "1"), tmp / "out"


@pytest.fixture(scope="module")
def kept_study(kept_run):
    return kept_run[0]


def _val_accuracy(model: torch.nn.Module) -> float:
    space = get_space("digits", epochs=2, probe_size=32)
    return space.accuracy(model, space.data.x_val, space.data.y_val)


def test_export_then_load_gives_the_recorded_validation_accuracy(kept_study, tmp_path):
    best = kept_study.best_trial
    assert [t.number for t in kept_trials(kept_study)] == [best.number]
    built = export_trial(kept_study, tmp_path / "export")
    assert not built.retrained and built.trial.number == best.number
    loaded = load_exported(tmp_path / "export")
    assert _val_accuracy(built.model) == best.value
    assert _val_accuracy(loaded) == best.value
    x = get_space("digits").data.x_test[:50]
    with torch.no_grad():
        assert torch.equal(loaded(x), built.model(x))


def test_folder_has_full_precision_toml_and_json_and_a_model_card(kept_study, tmp_path):
    export_trial(kept_study, tmp_path / "e")
    record = json.loads((tmp_path / "e" / "config.json").read_text())
    toml = tomllib.loads((tmp_path / "e" / "config.toml").read_text())
    best = kept_study.best_trial
    assert record["params"] == best.params == toml["params"]  # floats bit for bit
    assert toml["config"] == record["config"]
    assert toml["space"]["options"] == record["space"]["options"]
    space = get_space(toml["space"]["name"], **toml["space"]["options"])
    assert space.suggest(optuna.trial.FixedTrial(toml["params"])) == toml["config"]
    card = (tmp_path / "e" / "README.md").read_text()
    assert f"{best.value!r}" in card and "load_exported(" in card
    assert "kept weights" in card and "prunable weights" in card


def test_a_trial_whose_weights_were_not_kept_is_retrained_and_matches(kept_study, tmp_path):
    other = next(t for t in kept_study.trials if t.number != kept_study.best_trial.number)
    notes: list[str] = []
    built = export_trial(kept_study, tmp_path / "r", trial=other.number, log=notes.append)
    assert built.retrained
    assert built.metrics["val_accuracy"] == other.value  # CPU training is deterministic
    assert len(notes) == 1 and "retrained" in notes[0] and "MISMATCH" not in notes[0]
    assert "retrained from the trial's seed" in (tmp_path / "r" / "README.md").read_text()
    assert _val_accuracy(load_exported(tmp_path / "r")) == other.value


def test_bad_trial_and_foreign_study_are_refused(kept_study, tmp_path):
    with pytest.raises(ValueError, match="not a COMPLETE trial"):
        trial_model(kept_study, 99)
    plain = optuna.create_study()
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(ValueError, match="pass space=get_space"):
        trial_model(plain)
    with pytest.raises(ValueError, match="no config.json"):
        load_exported(tmp_path)


def test_refine_study_writes_the_table_plot_and_sparse_weights(kept_study, tmp_path):
    from manifold_search._attrs import SPARSE
    from manifold_search.refine.settings import parse_refine
    from manifold_search.refine.study import refine_study
    from manifold_search.refine.weights import download_weights
    from manifold_search.representations import default_artifact_store

    settings = parse_refine({"top": 2, "sparsity": [0.8, 0.5], "methods": ["fip", "magnitude"], "steps": 100,
                             "criterion": "lamp"})  # fmt: skip
    notes: list[str] = []
    path = refine_study(kept_study, tmp_path / "report", settings, progress=False, log=notes.append)
    table = path.read_text()
    assert table.count("| fip |") == 4 and table.count("| magnitude |") == 4 and "| dense |" in table
    assert any("retrained" in n for n in notes)  # the second-best trial kept no weights (keep = 1)
    rows = json.loads((tmp_path / "report" / "refine.json").read_text())
    prunable = {r["trial"]: r["n_prunable"] for r in rows if r["method"] == "dense"}
    for r in rows:
        n = prunable[r["trial"]]
        assert r["zeros"] == round(r["sparsity"] * n) / n  # exact, also for the dense row
    for number in {r["trial"] for r in rows}:
        assert (tmp_path / "report" / f"refine_trial{number}.png").stat().st_size > 1000
    index = optuna.load_study(study_name="tiny", storage=kept_study._storage).user_attrs[SPARSE]
    entry = index[str(kept_study.best_trial.number)]["fip"]["0.8"]
    state, masks, meta = download_weights(default_artifact_store(kept_study), entry["weights"])
    assert entry["record"]["layers"]["penultimate"][0] == 32  # its probe representation, for the manifold
    assert meta["sparsity"] == 0.8 and meta["method"] == "fip" and meta["settings"]["criterion"] == "lamp"
    pruned = sum(int((~m).sum()) for m in masks.values())
    total = sum(m.numel() for m in masks.values())
    assert pruned == round(0.8 * total)


@pytest.mark.parametrize("section, message", [
    ({"top": 0}, "top = 0: give a positive integer"),
    ({"sparsity": [0.5, 1.0]}, "sparsity = \\[0.5, 1.0\\]: give numbers strictly between 0 and 1"),
    ({"methods": ["fip", "lth"]}, "methods = \\['fip', 'lth'\\]: choose from"),
    ({"steps": "many"}, "steps = 'many': give a positive integer"),
    ({"topk": 3}, "unknown key 'topk': the keys are top, sparsity, methods, steps, criterion"),
    ({"criterion": "l1"}, "criterion = 'l1': choose one of 'magnitude', 'lamp'"),
])  # fmt: skip
def test_refine_section_errors_name_the_key_and_the_fix(section, message):
    from manifold_search.refine.settings import parse_refine

    with pytest.raises(ValueError, match=message):
        parse_refine(section)
    assert parse_refine({"sparsity": 0.9, "methods": "fip"}).sparsity == (0.9,)


def _command(argv):
    """A command through the real CLI parser, with its UsageError raised, not printed."""
    from manifold_search.cli import build_parser

    parser, _ = build_parser(argv[0])
    args = parser.parse_args(argv)
    return args.func(args)


def test_export_and_sparsify_commands(kept_run, tmp_path, capsys):
    from manifold_search.cli import UsageError

    study, out = kept_run
    assert _command(["export", str(out)]) == 0
    folder = out / "export" / f"trial-{study.best_trial.number}"
    assert _val_accuracy(load_exported(folder)) == study.best_trial.value
    assert "load_exported" in capsys.readouterr().out
    argv = ["sparsify", str(out), "--top", "1", "--sparsity", "0.5,0.9", "--methods", "fip,magnitude",
            "--steps", "60", "--no-progress", "--out", str(tmp_path / "r")]
    assert _command(argv) == 0
    table = (tmp_path / "r" / "refine.md").read_text()
    assert table.count("| fip |") == 2 and table.count("| magnitude |") == 2
    with pytest.raises(UsageError, match="sparsity = \\[0.5, 1.5\\]"):
        _command([*argv[:5], "0.5,1.5"])
    with pytest.raises(UsageError, match="not a COMPLETE trial"):
        _command(["export", str(out), "--trial", "77"])
