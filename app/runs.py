"""The checkpoints a demo may offer: found in configured run folders, never taken from a typed path.

A :class:`CheckpointCatalog` scans a runs folder (``RUNS/*/ckpt/*.pt``, any depth) or holds one given
checkpoint, and labels each entry with its run's name, step, preset and dataset so people can tell them
apart in a picker. The page only ever sends back a label; the catalog maps it to a path on the server.
"""
from __future__ import annotations

import logging
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from translate.checkpoint import FORMAT, checkpoint_config
from translate.config import Config
from translate.errors import CheckpointError, TranslateError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointInfo:
    """What the picker shows about one checkpoint file."""

    path: Path  # the checkpoint file, inside a configured folder
    run: str  # run folder name, relative to the runs folder
    step: int  # optimisation steps done when it was saved
    stage: str  # training stage at save time (cut, coop, ...)
    preset: str  # config preset the run started from
    dataset: str  # what the run was trained on (demo, a folder, a zoo name)
    has_D: bool  # the checkpoint holds D, so test-time EBM refinement is possible
    config: Config  # the run's resolved config, as saved in the checkpoint

    @property
    def label(self) -> str:
        kept = "" if self.path.name == "latest.pt" else f" [{self.path.stem}]"
        return f"{self.run}{kept} · step {self.step} · {self.preset} · {Path(self.dataset).name or '?'}"


def read_checkpoint_info(path: Path, run: str) -> CheckpointInfo:
    """Read a checkpoint's metadata without materialising its weights (memory-mapped, weights_only=True)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint '{path}': {type(e).__name__}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "models" not in state:
        raise CheckpointError(f"'{path}' is not a translate checkpoint of format {FORMAT}")
    cfg = checkpoint_config(state)
    return CheckpointInfo(path=path, run=run, step=int(state.get("step", 0)), stage=str(state.get("stage", "")),
                          preset=cfg.preset, dataset=cfg.dataset, has_D="D" in state["models"], config=cfg)


def _run_name(ckpt: Path, root: Path) -> str:
    run_dir = ckpt.parent.parent if ckpt.parent.name == "ckpt" else ckpt.parent
    if run_dir == root or root not in run_dir.parents:
        return run_dir.name or str(run_dir)
    return run_dir.relative_to(root).as_posix()


def _find_checkpoints(root: Path) -> list[Path]:
    """``*/ckpt/*.pt`` below ``root`` (hidden folders skipped), each run's latest.pt first."""
    found = [p for p in root.rglob("ckpt/*.pt")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)]

    def order(p: Path):
        kept = p.stem.removeprefix("step_")
        return (p.parent.as_posix(), p.name != "latest.pt", -int(kept) if kept.isdigit() else 0)

    return sorted(found, key=order)


class CheckpointCatalog:
    """Checkpoints from one runs folder or one checkpoint file, keyed by their picker label."""

    def __init__(self, runs_dir: str | Path | None = None, ckpt: str | Path | None = None):
        if (runs_dir is None) == (ckpt is None):
            raise TranslateError("give either a runs folder (--runs) or one checkpoint (--ckpt), not both")
        self.runs_dir = Path(runs_dir).expanduser().resolve() if runs_dir is not None else None  # scanned folder
        self.ckpt = Path(ckpt).expanduser().resolve() if ckpt is not None else None  # the single allowed file
        if self.ckpt is not None and self.ckpt.is_dir():
            self.ckpt = self.ckpt / "ckpt" / "latest.pt"  # a run folder stands for its latest checkpoint
        self._entries: dict[str, CheckpointInfo] = {}
        self._cache: dict[tuple[Path, int, int], CheckpointInfo] = {}  # (path, mtime_ns, size) -> info
        self.skipped: list[str] = []  # unreadable checkpoints from the last scan, with reasons

    def scan(self) -> list[CheckpointInfo]:
        """Re-read the folder; unchanged files come from a cache keyed by modification time and size."""
        if self.ckpt is not None:
            if not self.ckpt.is_file():
                raise CheckpointError(f"--ckpt: checkpoint '{self.ckpt}' not found (give RUN/ckpt/latest.pt "
                                      "or a run folder)")
            paths, root = [self.ckpt], self.ckpt.parent
        else:
            if not self.runs_dir.is_dir():
                raise CheckpointError(f"--runs: '{self.runs_dir}' is not a folder (give the folder that holds "
                                      "your run folders, e.g. runs/)")
            paths, root = _find_checkpoints(self.runs_dir), self.runs_dir
        entries: dict[str, CheckpointInfo] = {}
        self.skipped = []
        for path in paths:
            st = path.stat()
            key = (path, st.st_mtime_ns, st.st_size)
            try:
                info = self._cache.get(key) or read_checkpoint_info(path, _run_name(path, root))
            except TranslateError as e:
                log.warning("demo: skipping %s", e)
                self.skipped.append(str(e))
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


def example_images(cfg: Config, n: int = 8) -> list[Path]:
    """Up to ``n`` images from the run's dataset, test split first (testA/, else trainA/ or data.domain_a).

    The synthetic ``demo`` set is regenerated if missing (offline, seconds); a dataset that is not on this
    machine gives no examples.
    """
    from translate.datasets.imageio import find_images
    from translate.datasets.sources import DEMO, resolve_source

    local = [p for p in (cfg.data.root, cfg.data.domain_a, cfg.dataset) if p and Path(p).expanduser().is_dir()]
    if cfg.dataset != DEMO and not local:
        return []  # a named dataset missing here: never download one just to show examples
    try:
        cfg = resolve_source(cfg)
    except TranslateError as e:
        log.info("demo: no example images for dataset '%s': %s", cfg.dataset, e)
        return []
    folders = []
    if cfg.data.root:
        folders += [Path(cfg.data.root) / "testA", Path(cfg.data.root) / "trainA"]
    if cfg.data.domain_a:
        folders.append(Path(cfg.data.domain_a))
    for folder in folders:
        if folder.is_dir():
            found = find_images(folder)
            if found:
                return found[:n]
    return []
