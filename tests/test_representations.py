"""Recording networks on a probe set and reading them back, in-process and across processes."""

import subprocess
import sys

import numpy as np
import optuna
import pytest
import torch

from manifold_search import (
    Probe,
    ProbeMismatchError,
    capture_representations,
    load_network,
    load_representation,
    record_network,
)
from manifold_search._attrs import RECORD
from manifold_search.representations import default_artifact_store


def _probe(seed=0, n=24):
    g = torch.Generator().manual_seed(seed)
    return Probe(torch.randn(n, 6, generator=g), np.arange(n) % 3)


def _model(width=10):
    torch.manual_seed(width)
    return torch.nn.Sequential(torch.nn.Linear(6, width), torch.nn.ReLU(), torch.nn.Linear(width, 3))


def _study(tmp_path, name="s"):
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", study_name=name,
                               load_if_exists=True)


def test_capture_takes_the_classifier_input():
    model, probe = _model(10), _probe()
    arrays = capture_representations(model, probe)
    expected = model[1](model[0](probe.inputs)).detach().numpy()
    np.testing.assert_allclose(arrays["penultimate"], expected, rtol=1e-6)


def test_capture_named_layers_and_unknown_layer():
    arrays = capture_representations(_model(), _probe(), layers=["0", "2"])
    assert arrays["0"].shape == (24, 10) and arrays["2"].shape == (24, 3)
    with pytest.raises(ValueError, match="unknown layer name"):
        capture_representations(_model(), _probe(), layers=["nope"])


def test_capture_flattens_recurrent_and_conv_outputs():
    class Gru(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(1, 5, batch_first=True)
            self.head = torch.nn.Linear(5, 3)

        def forward(self, x):
            out, _ = self.gru(x.unsqueeze(-1))
            return self.head(out[:, -1])

    arrays = capture_representations(Gru(), _probe(), layers=["gru"])
    assert arrays["gru"].shape == (24, 6 * 5)


def test_record_and_load_round_trip(tmp_path):
    probe = _probe()
    study = _study(tmp_path)
    models = {}

    def objective(trial):
        models[trial.number] = _model(8 + trial.number)
        record_network(trial, models[trial.number], probe)
        return float(trial.number)

    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        reference = trial.user_attrs[RECORD]
        assert reference["probe"] == probe.fingerprint
        assert reference["layers"]["penultimate"] == [24, 8 + trial.number]
        rep = load_representation(study, trial)
        np.testing.assert_allclose(rep, capture_representations(models[trial.number], probe)["penultimate"])
        np.testing.assert_array_equal(load_network(study, trial.number)["__labels__"], probe.labels)
    assert (tmp_path / "study.db.artifacts").is_dir()


def test_load_from_a_second_process(tmp_path):
    probe = _probe()
    study = _study(tmp_path)
    study.optimize(lambda t: record_network(t, _model(7), probe) and 0.0, n_trials=1)
    expected = load_representation(study, 0)
    np.save(tmp_path / "expected.npy", expected)
    code = f"""
import numpy as np, optuna
from manifold_search import load_representation
study = optuna.load_study(study_name="s", storage="sqlite:///{tmp_path / 'study.db'}")
rep = load_representation(study, study.trials[0])
np.testing.assert_array_equal(rep, np.load("{tmp_path / 'expected.npy'}"))
print("ok", rep.shape)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "ok (24, 7)" in result.stdout


def test_probe_mismatch_is_refused_and_keeps_finished_trials(tmp_path):
    study = _study(tmp_path)
    study.optimize(lambda t: record_network(t, _model(), _probe(0)) and 1.0, n_trials=1)
    trial = study.ask()
    with pytest.raises(ProbeMismatchError, match="same probe"):
        record_network(trial, _model(), _probe(seed=1))
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_unrecorded_trial_and_bad_arguments(tmp_path):
    study = _study(tmp_path)
    study.optimize(lambda t: 0.0, n_trials=1)
    with pytest.raises(KeyError, match="recorded no network"):
        load_representation(study, 0)
    with pytest.raises(TypeError, match="live optuna.Trial"):
        record_network(study.trials[0], _model(), _probe())
    with pytest.raises(ValueError, match="labels"):
        Probe(torch.zeros(3, 2), np.zeros(2))


def test_in_memory_study_gets_a_private_store():
    study = optuna.create_study()
    study.optimize(lambda t: record_network(t, _model(5), _probe()) and 0.0, n_trials=1)
    assert load_representation(study, 0).shape == (24, 5)
    assert default_artifact_store(study) is default_artifact_store(study)


def test_journal_file_storage_keeps_records_beside_the_journal(tmp_path):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "study.log")))
    study = optuna.create_study(storage=storage)
    study.optimize(lambda t: record_network(t, _model(6), _probe()) and 0.0, n_trials=1)
    assert (tmp_path / "study.log.artifacts").is_dir()
    assert load_representation(study, 0).shape == (24, 6)


def test_a_probe_of_one_point_is_refused_when_created():
    with pytest.raises(ValueError, match="at least 2"):
        Probe(torch.zeros(1, 4), np.zeros(1))


def test_reading_records_does_not_load_torch():
    code = ("import sys, manifold_search.sampler, manifold_search.records; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
