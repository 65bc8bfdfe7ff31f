"""Where a run's images come from: the synthetic ``demo`` set, a folder, or a named zoo dataset.

``resolve_source`` turns what the user typed as DATASET into ``data.root``; it runs when data is built,
so a saved config that says ``dataset: demo`` (or ``horse2zebra``) regenerates (or downloads) the set on a
machine that lacks it. Named datasets live in the data root: ``data.data_root``, else ``$TRANSLATE_DATA``,
else ``~/.cache/translate`` (see datasets/zoo.py).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from translate.config import Config
from translate.errors import DataError

DEMO = "demo"


def _with_root(cfg: Config, root: str | Path) -> Config:
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, root=str(root)))


def resolve_source(cfg: Config) -> Config:
    """Return ``cfg`` with ``data.root`` filled in from ``cfg.dataset`` (unless two domain folders are given)."""
    from translate.datasets.zoo import ZOO, ensure_dataset

    data = cfg.data
    if data.domain_a or data.domain_b:
        if not (data.domain_a and data.domain_b):
            raise DataError("give both data.domain_a and data.domain_b (one folder per domain)")
        return cfg
    if cfg.dataset == DEMO:
        from translate.datasets.synthetic import ensure_synthetic

        return _with_root(cfg, ensure_synthetic(data.synthetic))
    # A saved run's root is kept while it exists; a zoo set missing on this machine is fetched again.
    if data.root and (Path(data.root).is_dir() or cfg.dataset not in ZOO):
        return cfg
    if cfg.dataset and Path(cfg.dataset).expanduser().is_dir():
        return _with_root(cfg, Path(cfg.dataset).expanduser().resolve())
    if cfg.dataset in ZOO:
        return _with_root(cfg, ensure_dataset(cfg.dataset, data.data_root or None))
    raise DataError(
        f"dataset '{cfg.dataset}' is neither 'demo', a named dataset ({', '.join(ZOO)}), nor an existing "
        "folder. A dataset folder must hold trainA/ and trainB/ (and optionally testA/, testB/); two "
        "arbitrary folders can be given with --domain-a DIR --domain-b DIR."
    )
