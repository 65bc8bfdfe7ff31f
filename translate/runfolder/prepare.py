"""Getting a run or output folder ready before any work: never over an existing run unless asked, writable,
and without the temp files of a save that a kill interrupted. Torch-free, so the CLI checks it first.

``translate train --out RUN`` on a folder that holds a run refuses (offering ``--resume`` or a new folder);
``--overwrite`` deletes that run's files (only the layout's entries: other files in the folder are kept).
One training at a time per folder: it holds ``RUN/.train.lock`` (translate/locks.py) while it runs, so a second
``translate train --out RUN`` (``--resume`` or ``--overwrite`` included) is refused with the first one's pid; the
lock dies with its process, so a killed training's folder is taken over by the next start.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from translate.atomic import remove_stale_temps
from translate.errors import TranslateError
from translate.locks import FileLock, Holder, LockHeld, held_by
from translate.runfolder.layout import RunFolder

log = logging.getLogger(__name__)

# What `translate train` writes into a run folder (layout.py), plus eval's and TensorBoard's subfolders.
RUN_ENTRIES = ("ckpt", "config.yaml", "log.jsonl", "metrics.jsonl", "samples", "eval", "tb")
LOCK_NAME = ".train.lock"  # held by the training that writes the folder (translate/locks.py)


def writable_folder(path: Path, option: str = "--out") -> Path:
    """Create ``path`` (and parents) and check that files can be written in it; one-line errors otherwise."""
    if path.exists() and not path.is_dir():
        raise TranslateError(f"{option} {path} is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise TranslateError(f"{option} {path}: cannot write there ({e.strerror or e}); give a folder on a "
                             "writable disk") from None
    return path


def check_writable(path: Path, option: str = "--out") -> Path:
    """Fail early, with one line, when ``path`` could not become a folder of files; creates nothing.

    For commands that work a while before they write (eval): the check runs before the work, while the folder
    itself is only made once there is something to put in it.
    """
    if path.exists() and not path.is_dir():
        raise TranslateError(f"{option} {path} is a file, not a folder; give a folder path")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise TranslateError(f"{option} {path}: cannot write in {parent} (read-only or not a folder); give a "
                             "folder on a writable disk")
    return path


def existing_run_entries(root: Path) -> list[str]:
    """The run-layout entries present in ``root`` (empty for a new or unrelated folder)."""
    return [name for name in RUN_ENTRIES if (root / name).exists() or (root / name).is_symlink()]


def run_lock(root: Path) -> FileLock:
    """The lock a training holds on its run folder (taken by prepare_run_folder)."""
    return FileLock(Path(root) / LOCK_NAME)


def in_use_message(root: Path, holder: Holder | None) -> str:
    who = holder.describe() if holder and holder.pid else "another process"
    stop = f"stop it (kill {holder.pid}) and " if holder and holder.pid else "stop it and "
    return (f"--out {root} is in use by another training ({who}); wait for it to end, or {stop}continue it "
            "with --resume")


def check_run_folder(root: Path, resume: bool = False, overwrite: bool = False) -> list[str]:
    """The run entries in ``root``; refuse a file, a folder a live training holds, or an existing run without
    ``resume`` or ``overwrite``. Writes nothing."""
    if root.exists() and not root.is_dir():
        raise TranslateError(f"--out {root} is a file, not a folder; give a new folder for the run")
    holder = held_by(root / LOCK_NAME)
    if holder is not None:
        raise TranslateError(in_use_message(root, holder))
    return _run_entries(root, resume, overwrite)


def _run_entries(root: Path, resume: bool, overwrite: bool) -> list[str]:
    entries = existing_run_entries(root) if root.is_dir() else []
    if entries and not resume and not overwrite:
        raise TranslateError(f"--out {root} already holds a run ({', '.join(entries)}); continue it with "
                             "--resume, give a new folder, or add --overwrite to delete it and start afresh")
    return entries


def take_run_lock(lock: FileLock) -> FileLock:
    """Hold ``lock`` (a run folder's) or refuse in one line naming its holder; a killed holder's is taken over."""
    root = lock.path.parent
    try:
        lock.acquire(wait_s=0.5)  # a probe (held_by) holds it for microseconds: retry briefly
    except LockHeld as e:
        raise TranslateError(in_use_message(root, e.holder)) from None
    except OSError as e:
        raise TranslateError(f"--out {root}: cannot create its lock file {lock.path} ({e.strerror or e}); "
                             "give a folder on a writable disk") from None
    gone = lock.previous
    if gone is not None:
        log.warning("--out %s: the training that held it (pid %d, since %s) is gone without releasing it "
                    "(killed?); this one takes it over", root, gone.pid, gone.since)
    return lock


def prepare_run_folder(root: Path, resume: bool = False, overwrite: bool = False,
                       lock: FileLock | None = None) -> Path:
    """Check (and create) a training run folder; refuse an existing run unless ``resume`` or ``overwrite``.

    With ``lock`` (``run_lock(root)``) the folder is locked for this process before anything in it is
    deleted, and checked again under the lock; the caller keeps it held while it trains.
    """
    entries = check_run_folder(root, resume, overwrite)
    if lock is not None:
        writable_folder(root)
        take_run_lock(lock)
        entries = _run_entries(root, resume, overwrite)  # another start may have begun the run meanwhile
    if entries and not resume:
        for name in entries:
            target = root / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        log.warning("--overwrite: deleted the previous run in %s (%s)", root, ", ".join(entries))
    writable_folder(root)
    remove_stale_temps(RunFolder(root).ckpt)
    return root
