"""A real S3 HTTP API on loopback for the tests: moto's server mode on 127.0.0.1 and a free port.

Use it with ``pytest_plugins = ["s3_server"]`` in a test module. ``s3_endpoint`` starts one server per
module and points the code under test at it through the environment only (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION), as a deployment would; ``s3_bucket``
creates a fresh bucket for a test.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The endpoint URL of a moto S3 server in a thread of this process, with the environment of the
    code under test pointing at it for the module's tests (and restored after)."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, **CREDENTIALS}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


def new_bucket(endpoint: str) -> str:
    """A new empty bucket on the server; its name."""
    bucket = f"spd-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A fresh bucket for one test."""
    return new_bucket(s3_endpoint)


def s3_client(endpoint: str):  # boto3 clients have no importable type
    """A boto3 client on the loopback server (to place or damage objects behind the code's back)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


class RequestLog(logging.Handler):
    """The HTTP requests the server answers (its werkzeug access log), to count what a call costs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[str]]:
        """The request lines answered inside the block."""
        logger = logging.getLogger("werkzeug")
        level, logger.level = logger.level, logging.INFO
        self.lines = []
        logger.addHandler(self)
        try:
            yield self.lines
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)
