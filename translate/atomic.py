"""Atomic file writes: every file this project writes appears whole or not at all.

The bytes go to a hidden temp file in the target's folder, ``.NAME.<pid>.<random>.tmp``, which then replaces
the target by a rename. A full disk, a kill or an exception therefore leaves the earlier file (or none), never a
truncated or 0-byte one, and the temp file is removed on any error. The pid in the name lets a later start tell
an orphan of a dead writer from a file still being written (translate/runfolder/prepare.py). The file gets the
mode open() would give it (0666 less the umask), not tempfile.mkstemp's private 0600.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def plain_file_mode(fd: int) -> None:
    """Give a file made by tempfile.mkstemp (always 0600) the mode open() would have: 0666 less the umask.

    Without this every output, checkpoint and report would be private to its owner (unreadable by a web
    server, a shared group, a container user).
    """
    umask = os.umask(0o022)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", fsync: bool = False) -> Iterator[IO]:
    """Open a temp file to write ``path``'s new content (``mode`` "wb" or "w"); it replaces ``path`` when the
    block ends without an error, and is removed otherwise. ``fsync`` flushes it to the disk first (checkpoints)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        plain_file_mode(fd)
        with os.fdopen(fd, mode) as fh:
            yield fh
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | Path) -> Path:
    """``path`` holds ``text`` afterwards, atomically."""
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)
