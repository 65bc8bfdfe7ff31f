"""Unpaired image folders (trainA/trainB/testA/testB, or two arbitrary folders) and their sampling.

The data is a pure function of the global sample index k (k = step * batch * world + rank * batch + i):
sample k pairs A image ``perm(epoch)[k % N_A]`` (epoch = k // N_A, one seeded permutation per epoch) with a
B image drawn at random from a generator seeded by (seed, k), and its crop/flip come from a
``random.Random`` seeded by (seed, k). No global RNG is used, so resuming at a step reproduces the exact
batches, and DataLoader workers or DDP ranks need no RNG plumbing.
"""
from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from translate.config import DataConfig
from translate.datasets.imageio import IMAGE_EXTENSIONS, find_images, load_image
from translate.datasets.transforms import TestTransform, TrainTransform, eval_transform
from translate.errors import DataError

log = logging.getLogger(__name__)

_MASK64 = (1 << 64) - 1
# Separate streams so the A permutation, the B pick and the two augmentations never share random numbers.
_STREAM_PERM, _STREAM_B, _STREAM_AUG_A, _STREAM_AUG_B = 1, 2, 3, 4


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def mix_seed(*values: int) -> int:
    """A stable, well-mixed 63-bit seed from integers (a splitmix64 chain).

    Unlike ``hash()`` it is the same in every process and Python version, and nearby inputs
    (seed, k) and (seed, k + 1) give unrelated seeds.
    """
    h = 0
    for v in values:
        h = _splitmix64(h ^ (v & _MASK64))
    return h >> 1  # non-negative and below 2**63: valid for torch.Generator.manual_seed


def first_sample_index(step: int, batch_size: int, world_size: int = 1) -> int:
    """The global sample index that starts ``step`` (e.g. for UnpairedImages.no_jitter_from)."""
    return step * batch_size * world_size


class UnpairedImages(Dataset):
    """Indexed by the global sample index k >= 0; item k is {"a", "b", "a_path", "b_path"}.

    ``len()`` is N_A (one pass over domain A) for code that expects a size, but any k >= 0 is valid.
    Unreadable files are skipped with one warning each and recorded in ``bad_files`` (per process:
    each DataLoader worker keeps its own set); the next file is tried deterministically.
    """

    def __init__(self, files_a: Sequence[str | Path], files_b: Sequence[str | Path],
                 transform: Callable, seed: int, max_images: int = 0, no_jitter_from: int | None = None):
        cap = max_images if max_images > 0 else None  # max_images: first N files of each domain (0 = all)
        self.files_a = [str(p) for p in list(files_a)[:cap]]
        self.files_b = [str(p) for p in list(files_b)[:cap]]
        if not self.files_a or not self.files_b:
            raise DataError(f"UnpairedImages needs images in both domains, got {len(self.files_a)} A "
                            f"and {len(self.files_b)} B")
        self.transform = transform  # TrainTransform or TestTransform
        self.seed = seed
        # First global sample index of the LR-decay phase, where resize jitter is turned off (None = never).
        # Set it before build_loader: persistent workers hold a copy of the dataset.
        self.no_jitter_from = no_jitter_from
        self.bad_files: set[str] = set()
        self._perms: dict[int, list[int]] = {}

    @property
    def n_a(self) -> int:
        return len(self.files_a)

    @property
    def n_b(self) -> int:
        return len(self.files_b)

    def __len__(self) -> int:
        return self.n_a

    def permutation(self, epoch: int) -> list[int]:
        """The order of domain A in ``epoch``: a seeded permutation, cached for the last two epochs."""
        if epoch not in self._perms:
            g = torch.Generator().manual_seed(mix_seed(self.seed, _STREAM_PERM, epoch))
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = torch.randperm(self.n_a, generator=g).tolist()
        return self._perms[epoch]

    def index_a(self, k: int) -> int:
        epoch, pos = divmod(k, self.n_a)
        return self.permutation(epoch)[pos]

    def index_b(self, k: int) -> int:
        g = torch.Generator().manual_seed(mix_seed(self.seed, _STREAM_B, k))
        return int(torch.randint(self.n_b, (1,), generator=g))

    def __getitem__(self, k: int) -> dict:
        if k < 0:
            raise IndexError(f"sample index must be >= 0, got {k}")
        epoch, pos = divmod(k, self.n_a)
        perm = self.permutation(epoch)
        # A bad A file is replaced by the next one in the same permutation, a bad B file by the next B file.
        order_a = (perm[(pos + j) % self.n_a] for j in range(self.n_a))
        a_path, img_a = self._first_readable(self.files_a, order_a, "A")
        b0 = self.index_b(k)
        order_b = ((b0 + j) % self.n_b for j in range(self.n_b))
        b_path, img_b = self._first_readable(self.files_b, order_b, "B")
        no_jitter = self.no_jitter_from is not None and k >= self.no_jitter_from
        rng_a = random.Random(mix_seed(self.seed, _STREAM_AUG_A, k))
        rng_b = random.Random(mix_seed(self.seed, _STREAM_AUG_B, k))
        return {"a": self.transform(img_a, rng_a, no_jitter=no_jitter, source=a_path),
                "b": self.transform(img_b, rng_b, no_jitter=no_jitter, source=b_path),
                "a_path": a_path, "b_path": b_path}

    def _first_readable(self, files: list[str], order: Iterator[int], domain: str):
        for i in order:
            path = files[i]
            if path in self.bad_files:
                continue
            try:
                return path, load_image(path)
            except DataError as e:
                self.bad_files.add(path)
                log.warning("skipping unreadable image in domain %s (%d skipped so far in this process): %s",
                            domain, len(self.bad_files), e)
        raise DataError(f"every image of domain {domain} is unreadable ({len(files)} files, e.g. {files[0]})")


class SampleSampler(Sampler[int]):
    """Infinite sampler of global sample indices, starting at step ``start`` (for resume).

    Rank r of W yields ``step * B * W + r * B + i`` for i < B (B = per-rank batch size), so the ranks
    together cover each global batch exactly once and a run on one process sees the same samples,
    in the same order, as the concatenation of the ranks' batches.
    """

    def __init__(self, start: int, batch_size: int, rank: int = 0, world_size: int = 1):
        super().__init__()
        if start < 0 or batch_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"SampleSampler: need start >= 0, batch_size >= 1 and 0 <= rank < world_size, "
                             f"got start={start}, batch_size={batch_size}, rank={rank}, world_size={world_size}")
        self.start, self.batch_size, self.rank, self.world_size = start, batch_size, rank, world_size

    def __iter__(self) -> Iterator[int]:
        b, w, r = self.batch_size, self.world_size, self.rank
        for step in itertools.count(self.start):
            base = step * b * w + r * b
            yield from range(base, base + b)


_LAYOUT_HELP = """expected a dataset folder like:
  {root}/trainA/  images of domain A
  {root}/trainB/  images of domain B
  {root}/testA/   (optional) test images of domain A
  {root}/testB/   (optional)
or two image folders given as data.domain_a and data.domain_b"""


def _layout_error(message: str, root: str | Path = "ROOT") -> DataError:
    return DataError(f"{message}\n{_LAYOUT_HELP.format(root=root)}")


def _split_dirs(root: Path, split: str) -> tuple[Path, Path]:
    """root/{split}A and root/{split}B; the test split falls back to valA/valB as in many releases."""
    if not root.is_dir():
        raise _layout_error(f"dataset folder {root} does not exist", root)
    names = [(f"{split}A", f"{split}B")] + ([("valA", "valB")] if split == "test" else [])
    for name_a, name_b in names:
        if (root / name_a).is_dir() and (root / name_b).is_dir():
            return root / name_a, root / name_b
    missing = [f"{n}/" for pair in names for n in pair if not (root / n).is_dir()]
    present = sorted(f"{p.name}/" for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    msg = (f"dataset folder {root} has no {' or '.join(missing)} for the {split} split "
                  f"(it contains: {', '.join(present) or 'no folders'})")
    raise _layout_error(msg, root)


def _domain_files(folder: Path, domain: str, root: str | Path) -> list[Path]:
    files = find_images(folder)
    if not files:
        raise _layout_error(f"no images of domain {domain} in {folder} (looked recursively for "
                            f"{' '.join(IMAGE_EXTENSIONS)}; hidden files are skipped)", root)
    return files


def resolve_layout(root: str | Path | None = None, domain_a: str | Path | None = None,
                   domain_b: str | Path | None = None, split: str = "train") -> tuple[list[Path], list[Path]]:
    """The sorted image files of domains A and B, from ``root/{split}A|B`` or from two folders."""
    if root and (domain_a or domain_b):
        raise DataError("give either a dataset folder (data.root) or two domain folders "
                        "(data.domain_a, data.domain_b), not both")
    if root:
        dir_a, dir_b = _split_dirs(Path(root), split)
        shown_root: str | Path = root
    elif domain_a and domain_b:
        dir_a, dir_b, shown_root = Path(domain_a), Path(domain_b), "ROOT"
        for key, folder in (("data.domain_a", dir_a), ("data.domain_b", dir_b)):
            if not folder.is_dir():
                raise _layout_error(f"{key}: folder {folder} does not exist")
    else:
        missing = "data.domain_b" if domain_a else "data.domain_a" if domain_b else "data.root"
        raise _layout_error(f"no dataset given ({missing} is empty)")
    files_a = _domain_files(dir_a, "A", shown_root)
    files_b = _domain_files(dir_b, "B", shown_root)
    log.info("%s split: %d images of domain A in %s, %d of domain B in %s",
             split, len(files_a), dir_a, len(files_b), dir_b)
    return files_a, files_b


def build_dataset(cfg: DataConfig, split: str = "train", seed: int = 0,
                  no_jitter_from: int | None = None) -> UnpairedImages:
    """The unpaired dataset of ``split``: random crops/flips for train, a plain resize otherwise.

    ``no_jitter_from`` is the first global sample index of the LR-decay phase (see first_sample_index);
    it is ignored unless ``cfg.jitter_off_in_decay``.
    """
    files_a, files_b = resolve_layout(cfg.root or None, cfg.domain_a or None, cfg.domain_b or None, split)
    if split == "train":
        transform = TrainTransform(cfg.preprocess, cfg.load_size, cfg.crop_size, cfg.flip, cfg.augment)
    else:
        transform = TestTransform(cfg.crop_size)
    return UnpairedImages(files_a, files_b, transform, seed, cfg.max_images,
                          no_jitter_from if cfg.jitter_off_in_decay else None)


def build_loader(dataset: UnpairedImages, cfg: DataConfig, start_step: int, rank: int = 0,
                 world_size: int = 1, device_type: str = "cpu") -> DataLoader:
    """An endless DataLoader of per-rank batches from ``start_step`` on; use ``iter()`` and ``next()``."""
    sampler = SampleSampler(start_step, cfg.batch_size, rank, world_size)
    return DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                      pin_memory=cfg.pin_memory and device_type == "cuda",
                      persistent_workers=cfg.num_workers > 0, drop_last=True,
                      generator=torch.Generator())  # its own: iter() must not draw from the global RNG


def fixed_images(files: Sequence[str | Path], n: int, size: int) -> torch.Tensor:
    """(n, 3, size, size) in [-1, 1]: the first n readable files in sorted order, plainly resized.

    Fewer than n rows come back (with a warning) when there are not enough readable files.
    """
    images: list[torch.Tensor] = []
    for path in sorted(files, key=lambda p: Path(p).as_posix()):
        if len(images) == n:
            break
        try:
            images.append(eval_transform(load_image(path), size))
        except DataError as e:
            log.warning("skipping unreadable image for the sample grid: %s", e)
    if not images:
        raise DataError(f"no readable image among {len(files)} files for the sample grid")
    if len(images) < n:
        log.warning("only %d readable images for a sample grid of %d", len(images), n)
    return torch.stack(images)  # (n, 3, size, size)
