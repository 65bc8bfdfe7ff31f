"""Where shared files live outside a run folder: the cache root, downloaded datasets and pretrained weights.

Torch-free and at the bottom of the layers (pyproject's import contract), so the datasets, the metrics and
the CLI all ask this one module; a run folder's own layout is translate/runfolder/layout.py.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """~/.cache/translate: the default home of datasets (see data_root) and weights."""
    return Path.home() / ".cache" / "translate"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else $TRANSLATE_DATA, else the cache root: where datasets (demo, zoo) are kept."""
    return Path(root or os.environ.get("TRANSLATE_DATA") or cache_root()).expanduser()


def weights_root() -> Path:
    """$TRANSLATE_WEIGHTS, else <cache root>/weights: pretrained feature extractors."""
    env = os.environ.get("TRANSLATE_WEIGHTS")
    return Path(env) if env else cache_root() / "weights"
