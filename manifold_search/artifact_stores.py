"""Where a study's records and weights live, named by one string that every worker can read.

A study's artifact store is chosen once, by a location string, and written onto
the study (user attribute ``manifold_search:artifacts``). Every later process
that opens the study, a worker on another machine, ``report``, the sampler
reading records, finds the same store from that attribute alone, so nobody
has to pass a store around and nothing trains before a store is known.

Locations:

- ``/abs/path`` or ``file:///abs/path``: ``FileSystemArtifactStore`` (a shared
  disk for several machines);
- ``s3://bucket/prefix``: ``Boto3ArtifactStore`` on any S3-compatible service;
  the endpoint comes from ``endpoint_url=`` or boto3's own ``AWS_ENDPOINT_URL``
  environment variable, credentials from boto3's usual chain.

With no location, a study stored in a SQLite file or a journal file keeps its
artifacts beside that file (``study.db.artifacts/``); an in-memory study gets a
temporary folder removed at exit (``representations.default_artifact_store``); a
database-server study must be given one.

>>> store_location("runs/x/study.db.artifacts").startswith("/")
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from optuna.artifacts import Boto3ArtifactStore, FileSystemArtifactStore

from manifold_search import _attrs


class ArtifactStoreError(ValueError):
    """The artifact store cannot be placed or reached (the message names the fix)."""


class _PrefixedStore:
    """An artifact store that keeps every artifact under ``prefix/`` of another store.

    Optuna's ``Boto3ArtifactStore`` writes at the bucket's top level; a prefix
    lets several studies share one bucket.
    """

    def __init__(self, inner: Any, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.strip("/")

    def _key(self, artifact_id: str) -> str:
        return f"{self.prefix}/{artifact_id}" if self.prefix else artifact_id

    def open_reader(self, artifact_id: str) -> IO[bytes]:
        return self.inner.open_reader(self._key(artifact_id))

    def write(self, artifact_id: str, content_body: IO[bytes]) -> None:
        self.inner.write(self._key(artifact_id), content_body)

    def remove(self, artifact_id: str) -> None:
        self.inner.remove(self._key(artifact_id))


def store_location(location: str | os.PathLike[str]) -> str:
    """The canonical form of a location: an absolute path or an ``s3://`` URL."""
    text = str(location)
    if text.startswith("s3://"):
        parsed = urlparse(text)
        if not parsed.netloc:
            raise ArtifactStoreError(
                f"artifact location {text!r} names no bucket; write it as s3://BUCKET/PREFIX"
            )
        return text.rstrip("/")
    if text.startswith("file://"):
        text = urlparse(text).path
    elif "://" in text:
        raise ArtifactStoreError(
            f"artifact location {text!r} is neither a folder nor an s3:// URL; "
            "give a path (a shared disk) or s3://BUCKET/PREFIX"
        )
    return str(Path(text).expanduser().resolve())


def open_store(location: str, *, endpoint_url: str | None = None) -> Any:
    """The Optuna artifact store at ``location`` (see :func:`store_location`)."""
    location = store_location(location)
    if not location.startswith("s3://"):
        try:
            os.makedirs(location, exist_ok=True)
        except OSError as exc:
            raise ArtifactStoreError(
                f"cannot create the artifact folder {location} ({exc.strerror}); "
                "choose a writable folder"
            ) from None
        return FileSystemArtifactStore(location)
    try:
        import boto3  # only S3 users need it
    except ImportError:
        raise ArtifactStoreError(
            f"artifact location {location} needs boto3; pip install 'manifold-search[s3]'"
        ) from None

    parsed = urlparse(location)
    endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    client = boto3.client("s3", endpoint_url=endpoint)
    return _PrefixedStore(Boto3ArtifactStore(parsed.netloc, client=client), parsed.path)


def check_store(store: Any, location: str) -> None:
    """Write, read and remove one small artifact, so a bad store fails before any training."""
    import io
    import uuid

    probe_id = f"manifold-search-check-{uuid.uuid4().hex}"
    try:
        store.write(probe_id, io.BytesIO(b"ok"))
        reader = store.open_reader(probe_id)
        ok = reader.read() == b"ok"
        reader.close()
        store.remove(probe_id)
    except Exception as exc:  # any client error: the message is what the user needs
        raise ArtifactStoreError(
            f"artifact store {location} cannot be used ({type(exc).__name__}: {exc}); "
            "check the path or the bucket, endpoint and credentials"
        ) from None
    if not ok:
        raise ArtifactStoreError(f"artifact store {location} returned other bytes than written")


def remember_location(study: Any, location: str, endpoint_url: str | None = None) -> None:
    """Write ``location`` (and an S3 endpoint) onto ``study``; a different one later is refused.

    Credentials are never written: boto3 reads them from its usual chain on each machine.
    """
    location = store_location(location)
    known = study_location(study)
    if known is None:
        study.set_user_attr(_attrs.ARTIFACTS, {"location": location, "endpoint_url": endpoint_url})
    elif known[0] != location:
        raise ArtifactStoreError(
            f"study {study.study_name!r} keeps its artifacts in {known[0]}, not {location}; "
            f"set artifacts = {known[0]!r} (or move the files and the study together)"
        )


def study_location(study: Any) -> tuple[str, str | None] | None:
    """``(location, endpoint_url)`` written on ``study``, if any."""
    value = study.user_attrs.get(_attrs.ARTIFACTS)
    if not isinstance(value, dict) or "location" not in value:
        return None
    return str(value["location"]), value.get("endpoint_url")


_OPEN: dict[tuple[str, str | None], Any] = {}


def study_store(study: Any) -> Any | None:
    """The store written on ``study`` (opened once per process), or None."""
    known = study_location(study)
    if known is None:
        return None
    if known not in _OPEN:
        _OPEN[known] = open_store(known[0], endpoint_url=known[1])
    return _OPEN[known]
