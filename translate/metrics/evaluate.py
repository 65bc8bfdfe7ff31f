"""Evaluate a translator on a dataset split: translate test A, compare with test B, check content kept.

:class:`Evaluator` loads the images and the reference features once, so the training hook can call it at
every evaluation; :func:`evaluate_translator` is the one-call API used by ``translate eval`` and benchmarks.
Reference (test B) features are cached on disk per extractor, dataset folder, split and image size.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from translate.atomic import atomic_open, remove_stale_temps
from translate.metrics.registry import ALL_METRICS, DEFAULT_METRICS, METRICS
from translate.apply import translate_tensor
from translate.datasets.folder import resolve_layout
from translate.datasets.imageio import load_image
from translate.datasets.transforms import eval_transform
from translate.config import SyntheticConfig
from translate.datasets.synthetic import render_a_background
from translate.metrics.content import LPIPSDistance
from translate.metrics.shape import shape_iou
from translate.metrics.features import FeatureExtractor, build_extractor, describe
from translate.metrics.fid import fid_from_features, kid_from_features
from translate.metrics.weights import MissingWeightsError
from translate.paths import data_root

log = logging.getLogger(__name__)


def stats_cache_dir() -> Path:
    return data_root() / "stats"


def load_images(files: Sequence[Path], size: int) -> torch.Tensor:
    """(N, 3, size, size) in [-1, 1], plainly resized (bicubic), as at test time."""
    return torch.stack([eval_transform(load_image(f), size) for f in files])


def extract_features(extractor: FeatureExtractor, images: torch.Tensor, batch_size: int) -> np.ndarray:
    chunks = [extractor(images[i:i + batch_size]) for i in range(0, images.shape[0], batch_size)]
    return torch.cat(chunks).double().numpy()  # (N, D)


def _files_key(root: Path, files: Sequence[Path], split: str, size: int) -> str:
    """Changes when any file is added, removed or rewritten (name, size and mtime)."""
    h = hashlib.sha256(f"{root.resolve()}|{split}|{size}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root) if f.is_relative_to(root) else f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _cached(path: Path) -> np.ndarray | None:
    """The features cached at ``path``, or None when absent or unreadable (then recomputed and replaced)."""
    if not path.is_file():
        return None
    try:
        feats = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        log.warning("ignoring the unreadable cached features %s (%s); computing them again", path, e)
        return None
    if feats.ndim != 2:
        log.warning("ignoring the cached features %s (shape %s); computing them again", path, feats.shape)
        return None
    log.info("reference features from cache: %s", path)
    return feats


def reference_features(extractor: FeatureExtractor, root: Path, files: Sequence[Path], split: str, size: int,
                       batch_size: int) -> np.ndarray:
    """Features of the real B images, from the cache when the same extractor has seen the same files.

    Evaluations started together compute them once: the first holds the entry's lock (translate/locks.py),
    the others wait and read its file. A file that does not load (a disk error) is computed again.
    """
    cache_id = getattr(extractor, "cache_id", None)
    if not cache_id:
        return _compute_features(extractor, files, size, batch_size)
    path = stats_cache_dir() / f"{cache_id}-{root.name}-{split}B-{_files_key(root, files, split, size)}.npy"
    feats = _cached(path)
    if feats is not None:
        return feats
    from translate.locks import cache_lock

    with contextlib.ExitStack() as held:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            held.enter_context(cache_lock(path.parent / f".{path.name}.lock", f"the cached features {path}"))
        except OSError as e:  # a read-only cache folder: compute them without caching
            log.warning("cannot cache reference features in %s (%s)", path.parent, e.strerror or e)
            return _compute_features(extractor, files, size, batch_size)
        feats = _cached(path)  # computed by another evaluation while this one waited
        if feats is None:
            # A killed writer's temps: every writer of this entry holds its lock, so none is running.
            remove_stale_temps(path.parent, re.compile(rf"^\.{re.escape(path.name)}\..+\.tmp$"), locked=True)
            feats = _compute_features(extractor, files, size, batch_size)
            try:
                with atomic_open(path) as fh:  # parallel evaluations never read half a file
                    np.save(fh, feats)
            except OSError as e:
                log.warning("cannot cache reference features in %s (%s)", path, e.strerror or e)
        return feats


def _compute_features(extractor: FeatureExtractor, files: Sequence[Path], size: int, batch_size: int) -> np.ndarray:
    chunks = [extract_features(extractor, load_images(files[i:i + batch_size], size), batch_size)
              for i in range(0, len(files), batch_size)]  # file by file chunk: a large test B never sits in memory
    return np.concatenate(chunks)


def _mode_coverage_fn():
    try:
        from translate.metrics.modes import mode_coverage
    except ImportError:
        return None
    return mode_coverage


class Evaluator:
    """Translate a fixed set of test A images and score them; reusable across checkpoints and steps."""

    def __init__(self, root: str | Path, split: str = "test", features: str | FeatureExtractor = "tiny",
                 device: str | torch.device = "cpu", batch_size: int = 16, max_images: int | None = None,
                 metrics: Sequence[str] = DEFAULT_METRICS, image_size: int | None = None,
                 lenient: Sequence[str] = ()):
        self.root, self.split = Path(root), split  # dataset folder with {split}A/ and {split}B/
        self.device = torch.device(device)  # where G and the metric networks run
        self.batch_size = max(1, batch_size)  # images per forward pass
        unknown = sorted(set(metrics) - set(ALL_METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown} (expected some of {', '.join(ALL_METRICS)})")
        self.metrics = list(metrics)
        self.skipped: dict[str, str] = {}  # metric -> why it was left out
        # Networks first: a missing weight file must fail within seconds, before any image is read.
        self.extractor = build_extractor(features, self.device) if {"fid", "kid"} & set(self.metrics) else None
        self.lpips = self._build_lpips(lenient)
        files_a, files_b = resolve_layout(self.root, split=split)
        self.files_a = files_a[:max_images] if max_images else files_a  # max_images: first N of A (None = all)
        self.image_size = image_size or load_image(self.files_a[0]).size[0]  # default: the first image's width
        self.real_a = load_images(self.files_a, self.image_size)  # (N, 3, S, S)
        self.real_b = None
        self._baseline: dict[str, float] | None = None  # figures of the untranslated inputs, computed once
        self.fake_features = None  # features of the translations being scored (set by score, read by fid/kid)
        if self.extractor is not None:
            self.real_b = reference_features(self.extractor, self.root, files_b, split, self.image_size,
                                             self.batch_size)
        self.gt, self.mask = self._load_ground_truth()
        self.background = self._render_backgrounds() if self.mask is not None else None  # for shape_iou
        self.shape_iou_gt = (float(shape_iou(self.gt, self.background, self.mask).mean())
                             if self.background is not None else None)  # the ground truth's own: the top of the scale
        self.mode_coverage = _mode_coverage_fn() if "modes" in self.metrics and self._has_labels() else None

    def _build_lpips(self, lenient: Sequence[str]) -> LPIPSDistance | None:
        if "lpips" not in self.metrics:
            return None
        try:
            return LPIPSDistance("alex", self.device)
        except MissingWeightsError as e:
            if "lpips" not in lenient:
                raise
            log.warning("lpips skipped: %s", e)
            self.skipped["lpips"] = str(e)
            return None

    def _load_ground_truth(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        gt_dir, mask_dir = self.root / f"{self.split}A_gt", self.root / f"{self.split}A_mask"
        if "gt" not in self.metrics or not gt_dir.is_dir():
            return None, None
        names = [f.name for f in self.files_a]
        if not all((gt_dir / n).is_file() for n in names):
            log.warning("%s lacks some of the %s images; ground-truth errors skipped", gt_dir, len(names))
            return None, None
        gt = load_images([gt_dir / n for n in names], self.image_size)
        mask = None
        if all((mask_dir / n).is_file() for n in names):
            mask = load_images([mask_dir / n for n in names], self.image_size)[:, :1]  # (N, 1, S, S)
        return gt, mask

    def _render_backgrounds(self) -> torch.Tensor | None:
        """(N, 3, S, S): the synthetic test A scenes without their animals (None for other datasets)."""
        config = json.loads((self.root / "labels.json").read_text()).get("config") if self._has_labels() else None
        if not isinstance(config, dict) or not all(f.stem.isdigit() for f in self.files_a):
            return None
        try:
            cfg = SyntheticConfig(**config)
        except TypeError:  # a labels.json written by another generator version
            return None
        return torch.stack([eval_transform(Image.fromarray(render_a_background(cfg, self.split, int(f.stem))),
                                           self.image_size) for f in self.files_a])

    def _has_labels(self) -> bool:
        return (self.root / "labels.json").is_file()

    def translate(self, G: torch.nn.Module) -> torch.Tensor:
        """(N, 3, S, S) translations of the fixed test A images, on the CPU."""
        outs = [translate_tensor(G, self.real_a[i:i + self.batch_size], self.device)
                for i in range(0, self.real_a.shape[0], self.batch_size)]
        return torch.cat(outs)

    def score(self, fake: torch.Tensor) -> dict:
        """The figures of ``fake`` (N, 3, S, S): each asked-for metric's registered function, in order."""
        out: dict = {"n_images": int(fake.shape[0]), "split": self.split, "image_size": self.image_size}
        self.fake_features = None
        if self.extractor is not None:
            self.fake_features = extract_features(self.extractor, fake, self.batch_size)
            out.update(features=self.extractor.name, features_note=describe(self.extractor),
                       n_reference=int(self.real_b.shape[0]))
        for name in ALL_METRICS:
            if name in self.metrics:
                out.update(METRICS[name].compute(self, fake))
        if self.extractor is not None:
            out.update(self._input_baseline())
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        return out

    def _input_baseline(self) -> dict[str, float]:
        """FID/KID of the untranslated A images against B: what doing nothing scores, for scale."""
        if self._baseline is None:
            feats = extract_features(self.extractor, self.real_a, self.batch_size)
            self._baseline = {}
            if "fid" in self.metrics:
                self._baseline["fid_input"] = fid_from_features(feats, self.real_b)
            if "kid" in self.metrics:
                self._baseline["kid_input"] = kid_from_features(feats, self.real_b)[0]
        return self._baseline

    @torch.no_grad()
    def run(self, G: torch.nn.Module) -> tuple[dict, torch.Tensor]:
        """(figures, translations). G keeps its train/eval mode; the global RNGs are left untouched."""
        was_training = G.training
        G.eval()
        try:
            with torch.random.fork_rng(devices=[]):
                fake = self.translate(G)
                return self.score(fake), fake
        finally:
            G.train(was_training)


def evaluate_translator(G: torch.nn.Module, root: str | Path, split: str = "test",
                        features: str | FeatureExtractor = "tiny", device: str | torch.device = "cpu",
                        batch_size: int = 16, max_images: int | None = None,
                        metrics: Sequence[str] = DEFAULT_METRICS, image_size: int | None = None) -> dict:
    """Figures for generator ``G`` on ``root``'s ``split``: fid, kid, kid_std, features, n_images, and where
    the dataset allows gt_l1, gt_psnr, gt_bg_l1 (paired ground truth) and mode_coverage (mode labels)."""
    evaluator = Evaluator(root, split, features, device, batch_size, max_images, metrics, image_size)
    return evaluator.run(G)[0]
