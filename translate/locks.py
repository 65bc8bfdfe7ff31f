"""Exclusive file locks that die with their process, for a run folder and the shared caches. Torch-free.

A lock is ``fcntl.flock`` on a small lock file; the holder writes its pid, start time and command into it, so
the one who is refused can say who holds it. The operating system drops the lock when its process ends, even
by ``kill -9``, so a lock is never stale: a record left by a killed holder is detected (its pid is gone) and
taken over. A holder that ends normally removes the file while it still holds the lock; a waiter that then
gets the lock on the removed file sees that the path no longer names it, and starts again.

Users: ``translate train`` (one training per run folder: runfolder/prepare.py) and the caches several
processes may fill at once (the synthetic demo set, zoo downloads, cached evaluation features), where the
others wait, for a bounded time, and then use what the first built.

Where ``fcntl`` is missing (Windows) the record is the lock: a live pid in it holds it, anything else is free.
That is weaker (two processes starting in the same instant may both take it), but every cache write is an
atomic rename anyway, so the worst outcome is work done twice.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from translate.errors import TranslateError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)

WAIT_ENV = "TRANSLATE_LOCK_WAIT"  # seconds a process waits for a cache another process is building
DEFAULT_WAIT_S = 1800.0  # a zoo download of a few hundred MB on a slow link; generation takes seconds
POLL_S = 0.2


class LockHeld(TranslateError):
    """Another live process holds the lock; ``holder`` is its record (pid, since, command) when readable."""

    def __init__(self, message: str, holder: "Holder | None"):
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """What a lock file says about the process holding (or last holding) it."""

    pid: int
    since: str  # UTC start time, ISO format
    command: str

    def describe(self) -> str:
        return f"pid {self.pid}, since {self.since}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (someone else's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    except OSError:  # Windows: os.kill(pid, 0) is not a probe there
        return True
    return True


def _parse(text: str) -> Holder | None:
    try:
        data = json.loads(text)
        return Holder(int(data["pid"]), str(data.get("since", "?")), str(data.get("command", "")))
    except (ValueError, KeyError, TypeError):
        return None


def _would_block(e: OSError) -> bool:
    return e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


class FileLock:
    """An exclusive lock on ``path`` (created on first use, kept afterwards)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fh: IO | None = None
        self.previous: Holder | None = None  # the record found when taking the lock: a killed holder's

    @property
    def held(self) -> bool:
        return self._fh is not None

    def holder(self) -> Holder | None:
        """The record in the lock file (the current holder's while it is held), or None."""
        try:
            return _parse(self.path.read_text())
        except OSError:
            return None

    def try_acquire(self) -> bool:
        """Take the lock if free; False when another live process holds it. Raises OSError if the file cannot be made."""
        if self._fh is not None:
            return True
        fh = self._open_locked()
        if fh is None:
            return False
        try:
            fh.seek(0)
            previous = _parse(fh.read())
            if fcntl is None and previous and previous.pid != os.getpid() and pid_alive(previous.pid):
                fh.close()
                return False
            self.previous = previous if previous and previous.pid != os.getpid() else None
            fh.seek(0)
            fh.truncate()
            record = {"pid": os.getpid(), "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "command": " ".join(sys.argv)[:300]}
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self._fh = fh
        return True

    def _open_locked(self) -> IO | None:
        """The lock file, open and flocked (without fcntl: just open); None when another process holds it."""
        while True:
            fh = open(self.path, "a+")
            if fcntl is None:
                return fh
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                fh.close()
                if _would_block(e):
                    return None
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fh
            fh.close()  # the holder removed this file as it released it: lock the path's new file

    def acquire(self, wait_s: float = 0.0, what: str = "", on_wait=None) -> "FileLock":
        """Take the lock, waiting up to ``wait_s`` seconds; LockHeld (one line naming the holder) after that.

        ``on_wait(holder)`` is called once when the wait begins (to log what is being waited for).
        """
        deadline = time.monotonic() + wait_s
        waited = False
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                holder = self.holder()
                who = holder.describe() if holder else "another process"
                waited_s = f", waited {wait_s:.0f} s" if wait_s >= 1 else ""
                raise LockHeld(f"{what or self.path} is in use by {who} (lock file {self.path}{waited_s})", holder)
            if not waited and on_wait is not None:
                on_wait(self.holder())
            waited = True
            time.sleep(POLL_S)
        return self

    def release(self) -> None:
        """Remove the lock file and drop the lock (a no-op when not held)."""
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            self.path.unlink()  # while still held: a waiter that gets this file's lock sees it is gone
        except OSError:
            try:
                fh.seek(0)
                fh.truncate()  # cannot remove it (a read-only folder?): an empty record is a free lock
            except OSError:
                pass
        finally:
            fh.close()  # closing the file drops the flock

    def __enter__(self) -> "FileLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def held_by(path: str | Path) -> Holder | None:
    """The live holder of the lock at ``path``, or None when it is free; creates nothing."""
    path = Path(path)
    if not path.is_file():
        return None
    record = FileLock(path).holder()
    if fcntl is None:
        return record if record and record.pid != os.getpid() and pid_alive(record.pid) else None
    try:
        with open(path) as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as e:
                if _would_block(e):
                    return record or Holder(0, "?", "")
                raise
    except OSError:
        return None
    return None


def wait_seconds(default: float = DEFAULT_WAIT_S) -> float:
    """How long to wait for another process's cache: $TRANSLATE_LOCK_WAIT seconds, else ``default``."""
    text = os.environ.get(WAIT_ENV, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise TranslateError(f"${WAIT_ENV}={text!r}: expected a number of seconds") from None
    if not value >= 0:
        raise TranslateError(f"${WAIT_ENV}={text!r}: expected zero or more seconds")
    return value


@contextmanager
def cache_lock(path: str | Path, what: str, wait_s: float | None = None) -> Iterator[FileLock]:
    """Hold the lock of a cache entry while building it; others wait (bounded) and then find it built.

    A LockHeld after the wait says who builds it, how long was waited and how to wait longer.
    """
    lock = FileLock(path)
    limit = wait_seconds() if wait_s is None else wait_s

    def waiting(holder: Holder | None) -> None:
        log.info("%s is being written by %s; waiting for it (up to %.0f s)", what,
                 holder.describe() if holder else "another process", limit)

    try:
        lock.acquire(limit, what, on_wait=waiting)
    except LockHeld as e:
        raise LockHeld(f"{e}; it may still be writing it: run again later, or wait longer with "
                       f"{WAIT_ENV}=SECONDS", e.holder) from None
    try:
        yield lock
    finally:
        lock.release()
