"""Where a run folder's files live (the cache root is translate/paths.py). Torch-free, so the CLI can import it.

A run folder (``translate train --out RUN``)::

    RUN/config.yaml     the resolved config            RUN/samples/step_N.png   sample grids
    RUN/log.jsonl       averaged step logs             RUN/ckpt/latest.pt       the checkpoint to resume
    RUN/metrics.jsonl   evaluations during training    RUN/ckpt/step_N.pt, best_<metric>.pt
    RUN/eval/<ckpt>_<split>_<features>/                `translate eval` outputs
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class _Inside:
    """A class attribute that reads as ``instance.root / parts``: one line per file of the layout."""

    def __init__(self, *parts: str):
        self.parts = parts

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.root.joinpath(*self.parts)


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is created by naming them)."""

    root: Path

    config = _Inside("config.yaml")
    log = _Inside("log.jsonl")
    metrics = _Inside("metrics.jsonl")
    samples = _Inside("samples")
    ckpt = _Inside("ckpt")
    latest = _Inside("ckpt", "latest.pt")

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def kept(self, step: int) -> Path:
        return self.ckpt / f"step_{step}.pt"

    def best(self, metric: str) -> Path:
        return self.ckpt / f"best_{metric}.pt"

    def eval_dir(self, ckpt_name: str, split: str, features: str) -> Path:
        return self.root / "eval" / f"{ckpt_name}_{split}_{features}"


def checkpoint_file(path: str | Path) -> Path:
    """A checkpoint path as given by a user: a run folder stands for its ckpt/latest.pt."""
    path = Path(path)
    return RunFolder(path).latest if path.is_dir() else path


def run_of(ckpt: str | Path) -> RunFolder:
    """The run folder a checkpoint file belongs to (RUN/ckpt/x.pt -> RUN; a loose file -> its folder)."""
    ckpt = checkpoint_file(ckpt)
    return RunFolder(ckpt.parent.parent if ckpt.parent.name == "ckpt" else ckpt.parent)
