"""Reads that see each day file whole while a run replaces it.

The pipeline replaces a day file by renaming a new one over it. DuckDB opens a file more than once
per query (its metadata at bind, its row groups at scan), so a query that straddles a rename can mix
the old file's footer with the new file's pages: a wrong total or a Thrift error ("Out of buffer",
"don't know what type"), measured here on about one read in five under a tight rewrite loop. A read
is kept only if no file it covers changed identity (inode, mtime, size) while it ran; otherwise it
is done again, on the files as they are now.

Local files only: an object-store file is fetched whole in one GET (``core.storage.read_bytes``),
which sees the old object or the new one, never a mix, so ``files.sql`` needs no retry there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
# A run replaces each day file once, but a page's read of 30 files can meet a backfill's burst of
# renames one after another: each try that meets one costs one read, and the burst ends.
TRIES = 50


class FilesKeptChanging(RuntimeError):
    """The files were replaced during every try: a run is rewriting them right now."""


def identity(paths: Sequence[str]) -> tuple[tuple[int, int, int] | None, ...]:
    """Each file's (inode, mtime, size), None if it is gone: what tells one version of it from the next."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(out)


def unchanged_read(paths: Sequence[str], read: Callable[[], T], tries: int = TRIES) -> T:
    """``read()``, done again while any of ``paths`` is replaced during it; an error raised while
    nothing changed is the file's own (a damaged file) and propagates at once."""
    for _ in range(tries):
        before = identity(paths)
        try:
            result = read()
        except Exception:
            if identity(paths) == before:
                raise
            continue
        if identity(paths) == before:
            return result
    raise FilesKeptChanging(
        f"{len(paths)} day file(s) were replaced during each of {tries} reads: a run is rewriting "
        "them; reload the page when it has finished"
    )
