"""The checkpoints a demo may offer: found in configured run folders, never taken from a typed path.

A :class:`CheckpointCatalog` scans a runs folder (``RUNS/*/ckpt/*.pt``, any depth) or holds one given
checkpoint, and labels each entry with its run's name, step, preset and dataset so people can tell them
apart in a picker. The page only ever sends back a label; the catalog maps it to a path on the server.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from translate.config import Config
from translate.errors import CheckpointError, TranslateError
from translate.runfolder.bundled import is_bundled
from translate.runfolder.layout import RunFolder, run_of
from translate.runfolder.schema import CheckpointInfo, read_checkpoint_info

log = logging.getLogger(__name__)
__all__ = ["CheckpointCatalog", "CheckpointInfo", "example_images", "read_checkpoint_info"]


def _run_name(ckpt: Path, root: Path) -> str:
    if is_bundled(ckpt):
        return "bundled demo model"
    run_dir = run_of(ckpt).root
    if run_dir == root or root not in run_dir.parents:
        return run_dir.name or str(run_dir)
    return run_dir.relative_to(root).as_posix()


MAX_RUN_DIRS = 20000  # folders walked per scan: a runs folder (or a link loop) cannot stall the page


def _find_checkpoints(root: Path) -> tuple[list[Path], list[str]]:
    """``*/ckpt/*.pt`` below ``root`` (hidden folders skipped), each run's latest.pt first, and why others were not.

    Linked run folders are followed (scratch storage is often linked into ``runs/``), each real folder once, so
    a link loop ends; a link to nothing, or a folder that cannot be read, is reported rather than left out silently.
    """
    found, skipped, seen = [], [], set()

    def unreadable(e: OSError):
        skipped.append(f"{e.filename}: cannot be read ({e.strerror or e})")

    for n, (folder, dirs, files) in enumerate(os.walk(root, onerror=unreadable, followlinks=True)):
        if n >= MAX_RUN_DIRS:
            skipped.append(f"{root}: more than {MAX_RUN_DIRS} folders; only the first were searched")
            break
        here, real = Path(folder), os.path.realpath(folder)
        if real in seen:  # reached again through a link: a loop, or a run linked twice
            dirs[:] = []
            continue
        seen.add(real)
        for name in [*dirs, *files]:  # a link to nothing is listed among the files
            if (here / name).is_symlink() and not (here / name).exists():
                skipped.append(f"{here / name}: a link to '{os.readlink(here / name)}', which does not exist")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).exists())
        if here.name == "ckpt":
            found += [here / f for f in files if f.endswith(".pt") and not f.startswith(".") and (here / f).is_file()]

    def order(p: Path):
        kept = p.stem.removeprefix("step_")
        return (p.parent.as_posix(), p.name != "latest.pt", -int(kept) if kept.isdigit() else 0)

    return sorted(found, key=order), skipped


class CheckpointCatalog:
    """Checkpoints from one runs folder or one checkpoint file, keyed by their picker label."""

    def __init__(self, runs_dir: str | Path | None = None, ckpt: str | Path | None = None):
        if (runs_dir is None) == (ckpt is None):
            raise TranslateError("give either a runs folder (--runs) or one checkpoint (--ckpt), not both")
        self.runs_dir = Path(runs_dir).expanduser().resolve() if runs_dir is not None else None  # scanned folder
        self.ckpt = Path(ckpt).expanduser().resolve() if ckpt is not None else None  # the single allowed file
        if self.ckpt is not None and self.ckpt.is_dir():
            self.ckpt = RunFolder(self.ckpt).latest  # a run folder stands for its latest checkpoint
        self._entries: dict[str, CheckpointInfo] = {}
        self._cache: dict[tuple[Path, int, int], CheckpointInfo] = {}  # (path, mtime_ns, size) -> info
        self.skipped: list[str] = []  # unreadable checkpoints from the last scan, with reasons

    def scan(self) -> list[CheckpointInfo]:
        """Re-read the folder; unchanged files come from a cache keyed by modification time and size."""
        if self.ckpt is not None:
            if not self.ckpt.is_file():
                raise CheckpointError(f"--ckpt: checkpoint '{self.ckpt}' not found (give RUN/ckpt/latest.pt "
                                      "or a run folder)")
            (paths, walk_skipped), root = ([self.ckpt], []), self.ckpt.parent
        else:
            if not self.runs_dir.is_dir():
                raise CheckpointError(f"--runs: '{self.runs_dir}' is not a folder (give the folder that holds "
                                      "your run folders, e.g. runs/)")
            (paths, walk_skipped), root = _find_checkpoints(self.runs_dir), self.runs_dir
        entries: dict[str, CheckpointInfo] = {}
        self.skipped = list(walk_skipped)
        for reason in self.skipped:
            log.warning("demo: skipping %s", reason)
        for path in paths:
            try:
                st = path.stat()  # a checkpoint removed since the folder was listed (a run cleaning up) is skipped
                key = (path, st.st_mtime_ns, st.st_size)
                info = self._cache.get(key) or read_checkpoint_info(path, _run_name(path, root))
            except (TranslateError, OSError) as e:
                reason = str(e) if isinstance(e, TranslateError) else f"{path}: gone or unreadable ({e.strerror or e})"
                log.warning("demo: skipping %s", reason)
                self.skipped.append(reason)
                continue
            self._cache[key] = info
            entries[info.label] = info
        self._entries = entries
        return list(entries.values())

    @property
    def labels(self) -> list[str]:
        return list(self._entries)

    def get(self, label: str | None) -> CheckpointInfo:
        """The entry for a label the page sent; anything not offered by the last scan is refused."""
        if not label:
            raise CheckpointError("no checkpoint selected: pick one from the list")
        info = self._entries.get(label)
        if info is None:
            raise CheckpointError("that checkpoint is not offered by this demo; press ↻ to refresh the list")
        return info


MAX_SCANNED = 2000  # directory entries looked at per folder: a checkpoint may name a huge one


def _first_images(folder: Path, n: int) -> list[Path]:
    """Up to ``n`` image files directly in ``folder`` (sorted), looking at no more than MAX_SCANNED entries."""
    from translate.datasets.imageio import is_image_file

    found = []
    try:
        with os.scandir(folder) as entries:
            for i, entry in enumerate(entries):
                if i >= MAX_SCANNED:
                    break
                if not entry.name.startswith(".") and is_image_file(entry.name) and entry.is_file():
                    found.append(Path(entry.path))
    except OSError:
        return []
    return sorted(found)[:n]


def example_images(cfg: Config, n: int = 8) -> list[Path]:
    """Up to ``n`` images from the run's dataset, test split first (testA/, else trainA/ or data.domain_a).

    A checkpoint is untrusted, and so is the dataset its config names: only folders already on this machine
    are read, never recursively and never more than MAX_SCANNED entries, and nothing is generated (the
    synthetic ``demo`` set) or downloaded (a named dataset) to show examples.
    """
    from translate.datasets.sources import DEMO

    roots = [cfg.data.root]
    if cfg.dataset == DEMO:
        from translate.datasets.synthetic import synthetic_dir

        roots.append(str(synthetic_dir(cfg.data.synthetic, cfg.data.data_root or None)))
    elif cfg.dataset:
        roots.append(cfg.dataset)
    folders = [Path(r).expanduser() / split for r in roots if r for split in ("testA", "trainA")]
    if cfg.data.domain_a:
        folders.append(Path(cfg.data.domain_a).expanduser())
    for folder in folders:
        if folder.is_dir():
            found = _first_images(folder, n)
            if found:
                return found
    return []
