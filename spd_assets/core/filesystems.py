"""Which filesystem a data or landing location is on: a local path, or an object-store URI
(``s3://``, ``gs://``, ``az://``) opened by pyarrow with credentials and endpoint from the environment
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... as the cloud's own SDKs read them).

No polars here: settings import it lazily.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import pyarrow.fs as pafs


def is_remote(path: str) -> bool:
    """True for an object-store URI (``s3://``, ``gs://``, ``az://``), False for a local path."""
    return "://" in str(path)


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a local path or URI, and the path inside it (no trailing slash).

    One filesystem per bucket, resolved once: an object store's lookup (its region) is a network call.
    ``az://container/prefix`` uses the account in AZURE_STORAGE_ACCOUNT_NAME (pyarrow's own URI,
    ``abfs://container@account...``, does not map back onto ``scheme://path``, so spd takes ``az://``).
    """
    if not is_remote(uri):
        return pafs.LocalFileSystem(), uri.rstrip("/")
    scheme, rest = uri.split("://", 1)
    return _bucket_filesystem(scheme, rest.split("/", 1)[0]), rest.rstrip("/")


@functools.lru_cache(maxsize=32)
def _bucket_filesystem(scheme: str, bucket: str) -> pafs.FileSystem:
    if scheme == "az":
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME", "").strip()
        if not account:
            raise ValueError(f"az://{bucket}: set AZURE_STORAGE_ACCOUNT_NAME (and a credential) for az://")
        key = os.environ.get("AZURE_STORAGE_ACCOUNT_KEY", "").strip() or None
        return pafs.AzureFileSystem(account_name=account, account_key=key)
    return pafs.FileSystem.from_uri(f"{scheme}://{bucket}")[0]


def local_dir_for(uri: str, kind: str, home: str | None = None) -> Path:
    """A local folder for what an object-store URI cannot hold (flock files, a mirror): under
    DAGSTER_HOME (else the temp dir), one per URI. It is local to this machine only."""
    base = home or os.environ.get("DAGSTER_HOME") or tempfile.gettempdir()
    return Path(base) / kind / hashlib.sha256(uri.encode()).hexdigest()[:16]
