"""Artifact stores named by a location string: folders and a real S3-compatible server."""

from __future__ import annotations

import optuna
import pytest
from optuna.artifacts import download_artifact, upload_artifact
from servers import create_bucket, s3_server

from manifold_search import _attrs
from manifold_search.artifact_stores import (
    ArtifactStoreError,
    check_store,
    open_store,
    remember_location,
    store_location,
)


def test_locations_are_canonical(tmp_path):
    assert store_location(f"file://{tmp_path}/a") == str(tmp_path / "a")
    assert store_location("s3://bucket/pre/fix/") == "s3://bucket/pre/fix"
    with pytest.raises(ArtifactStoreError, match="s3://BUCKET"):
        store_location("s3:///nobucket")
    with pytest.raises(ArtifactStoreError, match="neither a folder nor an s3"):
        store_location("gs://bucket")


def test_file_storages_have_a_place_for_artifacts_and_servers_none(tmp_path):
    from manifold_search.study.storage import storage_file

    assert storage_file(f"sqlite:///{tmp_path}/s.db") == tmp_path / "s.db"
    assert storage_file(f"journal:///{tmp_path}/j.log") == tmp_path / "j.log"
    assert storage_file("postgresql+psycopg://u@h/db") is None
    assert storage_file(f"{tmp_path}/j.log") == tmp_path / "j.log"


def test_unwritable_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ArtifactStoreError, match="cannot create the artifact folder"):
        open_store(str(blocker / "inside"))


def test_location_is_remembered_and_a_different_one_refused(tmp_path):
    study = optuna.create_study()
    remember_location(study, str(tmp_path / "a"))
    remember_location(study, str(tmp_path / "a"))
    assert study.user_attrs[_attrs.ARTIFACTS] == {"location": str(tmp_path / "a"),
                                                  "endpoint_url": None}
    with pytest.raises(ArtifactStoreError, match="keeps its artifacts in"):
        remember_location(study, str(tmp_path / "b"))


def test_s3_store_round_trip_on_a_real_server(tmp_path):
    with s3_server() as endpoint:
        create_bucket(endpoint, "studies")
        store = open_store("s3://studies/run-1", endpoint_url=endpoint)
        check_store(store, "s3://studies/run-1")
        study = optuna.create_study()
        trial = study.ask()
        source = tmp_path / "x.bin"
        source.write_bytes(b"\x00\x01payload")
        artifact_id = upload_artifact(artifact_store=store, file_path=str(source),
                                      study_or_trial=trial)
        target = tmp_path / "y.bin"
        download_artifact(artifact_store=store, artifact_id=artifact_id, file_path=str(target))
        assert target.read_bytes() == b"\x00\x01payload"
        # the prefix is real: the object sits under run-1/ in the bucket
        import boto3

        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=endpoint)
                .list_objects_v2(Bucket="studies", Prefix="run-1/")["Contents"]]
        assert keys == [f"run-1/{artifact_id}"]


def test_missing_bucket_fails_before_training():
    with s3_server() as endpoint:
        store = open_store("s3://no-such-bucket/x", endpoint_url=endpoint)
        with pytest.raises(ArtifactStoreError, match="cannot be used"):
            check_store(store, "s3://no-such-bucket/x")
