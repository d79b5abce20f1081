"""Kept weights: safetensors in the study's artifact store, top-K retention, read back elsewhere."""

import json
import os
import subprocess
import sys
import textwrap

import optuna
import pytest
import torch

from manifold_search._attrs import WEIGHTS
from manifold_search.refine.weights import (
    keep_weights,
    kept_trials,
    load_state,
    load_trial_weights,
    parse_keep,
    save_state,
    upload_weights,
    weights_reference,
)
from manifold_search.representations import default_artifact_store
from search_spaces import get_space

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.BatchNorm1d(12), torch.nn.ReLU(),
                               torch.nn.Linear(12, 3))  # fmt: skip


def _study(tmp_path, direction="maximize"):
    return optuna.create_study(direction=direction, storage=f"sqlite:///{tmp_path / 'study.db'}",
                               study_name="w")  # fmt: skip


def test_top_k_keeps_only_the_best_files_and_removes_the_rest(tmp_path):
    study = _study(tmp_path)
    values = [0.3, 0.9, 0.5, 0.7, 0.1, 0.8]

    def objective(trial):
        value = values[trial.number]
        keep_weights(trial, _net(trial.number), value, keep=2)
        return value

    study.optimize(objective, n_trials=len(values))
    store = default_artifact_store(study)
    kept = kept_trials(study)
    assert [t.number for t in kept] == [1, 5]  # 0.9 and 0.8
    files = [f for f in os.listdir(store._base_path) if not f.startswith(".")]
    assert len(files) == 2  # the pushed-out trials' files were removed from the store
    assert weights_reference(study, study.trials[3]) is None  # 0.7 was kept, then pushed out
    with pytest.raises(KeyError, match="dropped out of the top 2"):
        load_trial_weights(study, 3)
    with pytest.raises(KeyError, match="kept no weights"):
        load_trial_weights(study, 4)  # 0.1 never entered the top 2


def test_minimise_and_keep_all_and_none(tmp_path):
    study = _study(tmp_path, "minimize")
    values = [0.3, 0.1, 0.2]

    def objective(trial):
        keep_weights(trial, _net(0), values[trial.number], keep=1)
        keep_weights(trial, _net(0), values[trial.number], keep="none")  # a no-op
        return values[trial.number]

    study.optimize(objective, n_trials=3)
    assert [t.number for t in kept_trials(study)] == [1]

    other = optuna.create_study(direction="maximize", storage=study._storage, study_name="all")
    other.optimize(lambda t: keep_weights(t, _net(0), 0.5, keep="all") and 0.5, n_trials=3)
    assert len(kept_trials(other)) == 3


@pytest.mark.parametrize("bad", [-1, "top", 2.5, True])
def test_bad_retention_is_refused_with_the_fix(bad):
    with pytest.raises(ValueError, match="give \"all\", \"none\" or a number K"):
        parse_keep(bad)
    with pytest.raises(ValueError, match="keep_weights"):
        get_space("digits", keep_weights=bad)


def test_file_is_safetensors_and_foreign_files_are_refused(tmp_path):
    model = _net(1)
    masks = {"0.weight": torch.rand(12, 6) > 0.5}
    save_state(tmp_path / "w.safetensors", model, masks, {"config": {"lr": 1e-3}})
    state, loaded_masks, meta = load_state(tmp_path / "w.safetensors")
    assert meta == {"config": {"lr": 1e-3}}
    assert torch.equal(loaded_masks["0.weight"], masks["0.weight"])
    assert set(state) == set(model.state_dict())  # BatchNorm buffers too
    torch.save(model.state_dict(), tmp_path / "pickle.pt")
    with pytest.raises(Exception):  # noqa: B017 - a pickle is never opened as weights
        load_state(tmp_path / "pickle.pt")


def test_weights_and_masks_survive_a_second_process(tmp_path):
    """Dense weights kept by the objective and sparse weights with masks uploaded to the
    study are read back from the artifact store by another Python process."""
    study = _study(tmp_path)
    x = torch.randn(16, 6)
    model = _net(7).eval()

    def objective(trial):
        keep_weights(trial, model, 0.5, keep=10, metadata={"test_accuracy": 0.4})
        return 0.5

    study.optimize(objective, n_trials=1)
    sparse = _net(8).eval()
    masks = {"0.weight": torch.rand(12, 6) > 0.7, "3.weight": torch.rand(3, 12) > 0.7}
    with torch.no_grad():
        for name, mask in masks.items():
            dict(sparse.named_parameters())[name].mul_(mask)
    sparse_id = upload_weights(study, sparse, default_artifact_store(study), masks, {"sparsity": 0.7})
    with torch.no_grad():
        expected = {"dense": model(x).tolist(), "sparse": sparse(x).tolist()}
    torch.save(x, tmp_path / "x.pt")
    script = textwrap.dedent(f"""
        import json, optuna, torch
        from manifold_search.refine.weights import download_weights, load_into, load_trial_weights
        from manifold_search.representations import default_artifact_store
        study = optuna.load_study(study_name="w", storage="sqlite:///{tmp_path / 'study.db'}")
        def net():
            return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.BatchNorm1d(12),
                                       torch.nn.ReLU(), torch.nn.Linear(12, 3)).eval()
        x = torch.load("{tmp_path / 'x.pt'}", weights_only=True)
        state, masks, meta = load_trial_weights(study, 0)
        dense = load_into(net(), state, masks)
        state, masks, smeta = download_weights(default_artifact_store(study), "{sparse_id}")
        sparse = load_into(net(), state, masks)
        zeros = {{k: int((v == 0).sum()) for k, v in masks.items()}}
        with torch.no_grad():
            print(json.dumps({{"dense": dense(x).tolist(), "sparse": sparse(x).tolist(),
                              "meta": meta, "smeta": smeta, "masked": {{k: int((~v).sum()) for k, v in masks.items()}},
                              "zeros": {{k: int((dict(sparse.named_parameters())[k] == 0).sum()) for k in masks}}}}))
    """)
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert torch.allclose(torch.tensor(got["dense"]), torch.tensor(expected["dense"]), atol=0, rtol=0)
    assert torch.allclose(torch.tensor(got["sparse"]), torch.tensor(expected["sparse"]), atol=0, rtol=0)
    assert got["meta"]["test_accuracy"] == 0.4 and got["smeta"] == {"sparsity": 0.7}
    assert got["zeros"] == got["masked"] and sum(got["masked"].values()) > 0
    assert study.trials[0].user_attrs[WEIGHTS]["format"] == "safetensors"


def test_search_space_objective_keeps_the_top_k(tmp_path):
    space = get_space("digits", epochs=1, probe_size=32, keep_weights=2)
    study = _study(tmp_path)
    study.optimize(space.objective, n_trials=4)
    kept = kept_trials(study)
    assert len(kept) == 2
    best = sorted(study.trials, key=lambda t: (-t.value, t.number))[:2]
    assert [t.number for t in kept] == [t.number for t in best]
    state, _, meta = load_trial_weights(study, kept[0])
    assert meta["value"] == kept[0].value and "test_accuracy" in meta
