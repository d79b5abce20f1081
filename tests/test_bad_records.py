"""A broken network record costs only that network's place on the manifold, never the study.

Each case breaks a real record on disk (truncated, deleted, overwritten with garbage or
a pickle, the database moved without its artifact folder), then lets the study go on.
"""

import pickle
import shutil
import warnings

import numpy as np
import optuna
import pytest
import torch

from manifold_search import ManifoldSampler, NetworkManifold, Probe, record_network
from manifold_search._attrs import PROPOSAL, RECORD
from manifold_search.records import RecordWarning, check_records, dropped_records
from manifold_search.representations import capture_representations

optuna.logging.set_verbosity(optuna.logging.WARNING)
COMPLETE = optuna.trial.TrialState.COMPLETE
PROBE = Probe(torch.randn(32, 4, generator=torch.Generator().manual_seed(0)), np.arange(32) % 4)


def _objective(trial):
    width = trial.suggest_int("width", 2, 16)
    scale = trial.suggest_float("scale", 0.1, 2.0)
    torch.manual_seed(trial.number)
    model = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Tanh(), torch.nn.Linear(width, 4))
    with torch.no_grad():
        model[0].weight.mul_(scale)
    record_network(trial, model, PROBE)
    return (width - 9) ** 2 / 50 + (scale - 1.2) ** 2


def _study(path, n_trials=6, seed=0):
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{path}", load_if_exists=True,
                                sampler=ManifoldSampler(seed=seed, n_startup_trials=3))
    study.optimize(_objective, n_trials=n_trials)
    return study


def _record_file(study, number, folder):
    """The file of a trial's record in a FileSystemArtifactStore (one file per artifact id)."""
    return folder / study.trials[number].user_attrs[RECORD]["artifact_id"]


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path):
    path.write_bytes(np.random.default_rng(0).bytes(3000))


def _pickle(path):
    path.write_bytes(pickle.dumps({"penultimate": np.zeros((32, 3))}))


def _delete(path):
    path.unlink()


def _continue(path, n_trials=3):
    """Go on with a fresh sampler (a new worker); return the record warnings it raised."""
    sampler = ManifoldSampler(seed=1, n_startup_trials=3)
    resumed = optuna.load_study(study_name="s", storage=f"sqlite:///{path}", sampler=sampler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed.optimize(_objective, n_trials=n_trials)
    return resumed, sampler, [w for w in caught if issubclass(w.category, RecordWarning)]


@pytest.mark.parametrize("damage", [_truncate, _delete, _garbage, _pickle])
def test_a_broken_record_is_skipped_with_one_warning(tmp_path, damage):
    study = _study(tmp_path / "study.db")
    damage(_record_file(study, 1, tmp_path / "study.db.artifacts"))
    resumed, sampler, caught = _continue(tmp_path / "study.db")
    trials = resumed.get_trials()
    assert [t.state for t in trials] == [COMPLETE] * 9
    assert all(PROPOSAL in t.user_attrs for t in trials[6:])  # the sampler kept proposing
    assert trials[-1].user_attrs[PROPOSAL]["distance"] == "network"
    assert len(caught) == 1  # once per process, although every proposal rereads the study
    message = str(caught[0].message)
    assert "trial 1" in message and "manifold-search check" in message
    assert "pickle" not in message.lower() and "unsafe" not in message.lower()
    assert 1 not in sampler.manifold and list(sampler.manifold.skipped) == [1]
    assert len(sampler.manifold) == 8


def test_database_moved_without_its_artifacts(tmp_path):
    study = _study(tmp_path / "study.db")
    values = [t.value for t in study.trials]
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copy(tmp_path / "study.db", moved / "study.db")
    resumed, _, caught = _continue(moved / "study.db")
    assert [t.value for t in resumed.trials[:6]] == values
    assert [t.state for t in resumed.trials] == [COMPLETE] * 9
    assert len(caught) == 1 and "6 network record(s)" in str(caught[0].message)
    assert "artifact folder" in str(caught[0].message)
    # the three new trials recorded into the new folder: they are on the manifold
    assert NetworkManifold.from_study(resumed).keys == [6, 7, 8]


def test_check_records_finds_and_drops_without_touching_results(tmp_path):
    study = _study(tmp_path / "study.db")
    _truncate(_record_file(study, 2, tmp_path / "study.db.artifacts"))
    _garbage(_record_file(study, 4, tmp_path / "study.db.artifacts"))
    before = [(t.state, t.value, t.params) for t in study.get_trials()]
    problems = check_records(study)
    assert [n for n, _ in problems] == [2, 4]
    assert all("not a readable .npz" in p for _, p in problems)
    assert dropped_records(study) == {}
    assert [n for n, _ in check_records(study, drop=True)] == [2, 4]
    assert sorted(dropped_records(study)) == [2, 4]
    assert check_records(study) == []  # dropped records are not listed again
    assert [(t.state, t.value, t.params) for t in study.get_trials()] == before
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordWarning)  # dropped: left out silently
        manifold = NetworkManifold.from_study(study)
    assert manifold.keys == [0, 1, 3, 5] and manifold.skipped == {}


def test_a_restored_record_comes_back(tmp_path):
    study = _study(tmp_path / "study.db", n_trials=4)
    path = _record_file(study, 0, tmp_path / "study.db.artifacts")
    shutil.move(path, tmp_path / "saved")
    with pytest.warns(RecordWarning, match="trial 0"):
        manifold = NetworkManifold.from_study(study)
    assert manifold.keys == [1, 2, 3] and 0 in manifold.skipped
    shutil.move(tmp_path / "saved", path)
    assert manifold.update_from_study(study) == [0] and manifold.skipped == {}


def test_a_study_recorded_under_the_old_keys_still_loads(tmp_path):
    """Studies made before the attribute rename: record under ``manifold_search:network``."""
    from optuna.artifacts import FileSystemArtifactStore, upload_artifact

    store = FileSystemArtifactStore(str(tmp_path / "old.db.artifacts"))
    (tmp_path / "old.db.artifacts").mkdir()

    def old_objective(trial):
        width = trial.suggest_int("width", 2, 16)
        torch.manual_seed(trial.number)
        model = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 4))
        arrays = capture_representations(model, PROBE)
        path = tmp_path / f"t{trial.number}.npz"
        np.savez_compressed(path, **arrays, __labels__=PROBE.labels)
        artifact_id = upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)
        trial.set_user_attr("manifold_search:network", {
            "artifact_id": artifact_id, "probe": PROBE.fingerprint,
            "layers": {k: list(v.shape) for k, v in arrays.items()}})  # fmt: skip
        trial.study.set_user_attr("manifold_search:probe", PROBE.fingerprint)
        return abs(width - 9)

    storage = f"sqlite:///{tmp_path / 'old.db'}"
    optuna.create_study(study_name="old", storage=storage).optimize(old_objective, n_trials=5)
    study = optuna.load_study(study_name="old", storage=storage,
                              sampler=ManifoldSampler(seed=0, n_startup_trials=3))
    assert NetworkManifold.from_study(study).keys == [0, 1, 2, 3, 4]
    study.optimize(_objective, n_trials=2)  # new trials record under the new key, same probe
    assert study.trials[-1].user_attrs[PROPOSAL]["distance"] == "network"
    assert len(NetworkManifold.from_study(study)) == 7
