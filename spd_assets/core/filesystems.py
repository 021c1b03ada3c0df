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


@functools.lru_cache(maxsize=32)
def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a local path or URI, and the path inside it (no trailing slash).

    Resolved once per URI: an object store's lookup (its region) is a network call.
    """
    fs, path = pafs.FileSystem.from_uri(uri) if is_remote(uri) else (pafs.LocalFileSystem(), uri)
    return fs, path.rstrip("/")


def local_dir_for(uri: str, kind: str, home: str | None = None) -> Path:
    """A local folder for what an object-store URI cannot hold (flock files, a mirror): under
    DAGSTER_HOME (else the temp dir), one per URI. It is local to this machine only."""
    base = home or os.environ.get("DAGSTER_HOME") or tempfile.gettempdir()
    return Path(base) / kind / hashlib.sha256(uri.encode()).hexdigest()[:16]
