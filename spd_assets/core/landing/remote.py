"""A landing folder on object storage (``SPD_LANDING_DIR=s3://bucket/landing``), read through a mirror.

The readers of a landing folder stream CSV from a local file (polars), read a mapping.toml and a
catalog.csv beside it; rather than teach each of them a second filesystem, every reader first syncs a
local mirror of the folder (under DAGSTER_HOME, one per URI) and reads that: one listing call, and a
download only for an object whose size or modification time changed since the last sync. Objects
appear whole on S3 (a PUT is atomic), and the mirror's files take the objects' modification times,
so the landing sensor's settle time and its size/mtime guard work as on a local folder.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.fs as pafs

from ..filesystems import filesystem, is_remote, local_dir_for
from .validate import LandingFileError

MIRROR_KIND = "spd_landing_mirror"
_BLOCK = 1 << 20


def local_folder(landing_dir: str | Path) -> Path:
    """The folder to read: the landing dir itself when local; for an object-store URI, its mirror,
    synced now (objects gone from the bucket are gone from the mirror too)."""
    if not is_remote(str(landing_dir)):
        return Path(landing_dir)
    uri = str(landing_dir).rstrip("/")
    fs, root = filesystem(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except OSError as exc:
        raise LandingFileError(uri, f"the landing folder cannot be listed ({exc})") from None
    objects = {i.base_name: i for i in infos if i.type == pafs.FileType.File and _mirrored(i.base_name)}
    mirror = local_dir_for(uri, MIRROR_KIND)
    mirror.mkdir(parents=True, exist_ok=True)
    for name, info in objects.items():
        _sync(fs, info, mirror / name)
    for stale in mirror.iterdir():
        if stale.name not in objects and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)
    return mirror


def _sync(fs: pafs.FileSystem, info: pafs.FileInfo, local: Path) -> None:
    """Download one object unless the mirror holds it already (same size and mtime)."""
    mtime_ns = info.mtime_ns or 0
    with contextlib.suppress(FileNotFoundError):
        stat = local.stat()
        if (stat.st_size, stat.st_mtime_ns) == (info.size, mtime_ns):
            return
    tmp = local.with_name(f".{local.name}.tmp-{uuid.uuid4().hex}")  # another process may sync too
    try:
        with fs.open_input_stream(info.path) as source, tmp.open("wb") as sink:
            while block := source.read(_BLOCK):
                sink.write(block)
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, local)
    finally:
        tmp.unlink(missing_ok=True)


def _mirrored(name: str) -> bool:
    """Every file directly in the folder but hidden ones (a landing folder holds landing files only)."""
    return not name.startswith(".")


@contextlib.contextmanager
def named_as_given(landing_dir: str | Path, local: Path) -> Iterator[None]:
    """Errors about mirrored files name the object (``s3://.../orders_D.csv``), not the mirror."""
    try:
        yield
    except LandingFileError as exc:
        if Path(landing_dir) == local:
            raise
        given = str(landing_dir).rstrip("/")
        raise LandingFileError(
            exc.file.replace(str(local), given), exc.problem.replace(str(local), given)
        ) from None
