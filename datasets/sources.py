"""Where a run's images come from: the synthetic ``demo`` set, a folder, or (later) a named zoo dataset.

``resolve_source`` turns what the user typed as DATASET into ``data.root``; it runs when data is built,
so a saved config that says ``dataset: demo`` regenerates the set on a machine that lacks it.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from translate.config import Config
from translate.errors import DataError

DEMO = "demo"


def resolve_source(cfg: Config) -> Config:
    """Return ``cfg`` with ``data.root`` filled in from ``cfg.dataset`` (unless two domain folders are given)."""
    data = cfg.data
    if data.domain_a or data.domain_b:
        if not (data.domain_a and data.domain_b):
            raise DataError("give both data.domain_a and data.domain_b (one folder per domain)")
        return cfg
    if cfg.dataset == DEMO:
        from translate.datasets.synthetic import ensure_synthetic

        root = ensure_synthetic(data.synthetic)
        return dataclasses.replace(cfg, data=dataclasses.replace(data, root=str(root)))
    if data.root:
        return cfg
    if cfg.dataset and Path(cfg.dataset).expanduser().is_dir():
        root = str(Path(cfg.dataset).expanduser().resolve())
        return dataclasses.replace(cfg, data=dataclasses.replace(data, root=root))
    raise DataError(
        f"dataset '{cfg.dataset}' is neither 'demo' nor an existing folder. Named datasets (horse2zebra, ...) "
        "are not downloaded automatically yet: download and unzip one yourself and pass its folder, which "
        "must hold trainA/ and trainB/ (and optionally testA/, testB/)."
    )
