"""Getting a run or output folder ready before any work: never over an existing run unless asked, writable,
and without the temp files of a save that a kill interrupted. Torch-free, so the CLI checks it first.

``translate train --out RUN`` on a folder that holds a run refuses (offering ``--resume`` or a new folder);
``--overwrite`` deletes that run's files (only the layout's entries: other files in the folder are kept).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from translate.atomic import remove_stale_temps
from translate.errors import TranslateError
from translate.runfolder.layout import RunFolder

log = logging.getLogger(__name__)

# What `translate train` writes into a run folder (layout.py), plus eval's and TensorBoard's subfolders.
RUN_ENTRIES = ("ckpt", "config.yaml", "log.jsonl", "metrics.jsonl", "samples", "eval", "tb")


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


def check_run_folder(root: Path, resume: bool = False, overwrite: bool = False) -> list[str]:
    """The run entries in ``root``; refuse a file, or an existing run without ``resume`` or ``overwrite``.
    Writes nothing."""
    if root.exists() and not root.is_dir():
        raise TranslateError(f"--out {root} is a file, not a folder; give a new folder for the run")
    entries = existing_run_entries(root) if root.is_dir() else []
    if entries and not resume and not overwrite:
        raise TranslateError(f"--out {root} already holds a run ({', '.join(entries)}); continue it with "
                             "--resume, give a new folder, or add --overwrite to delete it and start afresh")
    return entries


def prepare_run_folder(root: Path, resume: bool = False, overwrite: bool = False) -> Path:
    """Check (and create) a training run folder; refuse an existing run unless ``resume`` or ``overwrite``."""
    entries = check_run_folder(root, resume, overwrite)
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
