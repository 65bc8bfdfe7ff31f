"""Atomic file writes: every file this project writes appears whole or not at all.

The bytes go to a hidden temp file in the target's folder, ``.NAME.<pid>.<random>.tmp``, which then replaces
the target by a rename. A full disk, a kill or an exception therefore leaves the earlier file (or none), never a
truncated or 0-byte one, and the temp file is removed on any error. The pid in the name lets a later start tell
an orphan of a dead writer from a file still being written: :func:`remove_stale_temps` is the one cleaner of
orphaned temps, for these files and for the temp folders that datasets are built in. The file gets the mode
open() would give it (0666 less the umask), not tempfile.mkstemp's private 0600.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from translate.locks import pid_alive

log = logging.getLogger(__name__)

# atomic_open's temp names, .<name>.<pid>.<random>.tmp (before the pid was added: .<name>.<random>.tmp).
TEMP_NAME = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[^.]+\.tmp$")
DEAD_WRITER_AGE_S = 60.0  # a temp of a process that is gone, older than this, is an orphan
ANY_WRITER_AGE_S = 3600.0  # no write takes an hour: older temps are orphans whatever the pid says


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


def remove_stale_temps(folder: str | Path, pattern: re.Pattern = TEMP_NAME, now: float | None = None,
                       locked: bool = False) -> list[Path]:
    """Delete the orphaned temps in ``folder`` whose names ``pattern`` matches (files, or folders with all in them).

    A temp is an orphan when its writer is gone and a minute passed (where the name holds the writer's pid, as
    a ``pid`` group of ``pattern``), or when an hour passed. Younger temps may belong to a process still writing.
    ``locked``: the caller holds the lock (translate/locks.py) that every writer of these temps holds while it
    writes, so each one is an orphan whatever its age.
    """
    folder, now = Path(folder), time.time() if now is None else now
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if not match or path.is_symlink():
            continue
        age = now - path.stat().st_mtime
        pid = match.groupdict().get("pid")
        writer_gone = pid is not None and int(pid) != os.getpid() and not pid_alive(int(pid))
        if locked or (writer_gone and age > DEAD_WRITER_AGE_S) or age > ANY_WRITER_AGE_S:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.warning("%s: removed %d temp(s) left by an interrupted write", folder, len(removed))
    return removed
