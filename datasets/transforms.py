"""Resize, crop and flip for training and evaluation, following the CUT/CycleGAN reference preprocessing.

All randomness comes from the ``random.Random`` passed in by the caller, which the dataset seeds from the
global sample index, so a transform never touches a global RNG and the same sample always gets the same crop.

Preprocess modes (as in the reference ``get_transform``):
  resize_and_crop       resize to load_size x load_size (bicubic), then a random crop_size x crop_size crop
  crop                  a random crop only
  scale_width           width -> load_size keeping the aspect (height at least crop_size); no crop
  scale_width_and_crop  scale_width, then a random crop
  none                  nothing but rounding H and W to multiples of 4
Every mode ends by rounding H and W to multiples of 4 (the generator's down/up-sampling needs it).

``data.augment`` adds an albumentations pipeline after crop and flip (:class:`Albumentations`). It is
seeded per sample from the same ``random.Random``, after the crop and flip have drawn theirs, so each
sample's augmentation is a function of (seed, sample index) and a resumed run sees the same images.
"""
from __future__ import annotations

import logging
import random

import numpy as np
import torch
from PIL import Image

from translate.config import Preprocess, choices
from translate.errors import ConfigError
from translate.extras import install_hint
from translate.datasets.imageio import pil_to_tensor

log = logging.getLogger(__name__)

PREPROCESS_MODES = choices(Preprocess)  # data.preprocess's Literal is the one list
_BICUBIC = Image.Resampling.BICUBIC
_MULTIPLE = 4


def make_multiple(img: Image.Image, base: int = _MULTIPLE) -> Image.Image:
    """Resize to the nearest multiple of ``base`` in each side (the reference ``__make_power_2``)."""
    w, h = img.size
    nw, nh = max(base, round(w / base) * base), max(base, round(h / base) * base)
    return img if (nw, nh) == (w, h) else img.resize((nw, nh), _BICUBIC)


def scale_width(img: Image.Image, target_width: int, min_height: int) -> Image.Image:
    """Width -> ``target_width`` keeping the aspect ratio; the height is kept at least ``min_height``."""
    w, h = img.size
    nh = int(max(target_width * h / w, min_height))
    return img if (w, h) == (target_width, nh) else img.resize((target_width, nh), _BICUBIC)


def random_crop(img: Image.Image, size: int, rng: random.Random) -> Image.Image:
    w, h = img.size
    x, y = rng.randint(0, w - size), rng.randint(0, h - size)
    return img.crop((x, y, x + size, y + size))


class TrainTransform:
    """PIL image -> (3, crop, crop) tensor in [-1, 1] with random crop and flip (non-square for the
    ``scale_width`` and ``none`` modes, which do not crop)."""

    def __init__(self, preprocess: str, load_size: int, crop_size: int, flip: bool, augment=None):
        if preprocess not in PREPROCESS_MODES:
            raise ValueError(f"preprocess must be one of {', '.join(PREPROCESS_MODES)}, got {preprocess!r}")
        self.preprocess = preprocess
        self.load_size = load_size  # resize target before cropping (ignored by "crop" and "none")
        self.crop_size = crop_size  # side of the random square crop
        self.flip = flip  # random horizontal flip with probability 1/2
        self.augment = Albumentations(augment) if augment else None  # data.augment, after crop and flip
        self._warned_small = False  # the upscaling warning is shown once per transform (per worker)

    def __call__(self, img: Image.Image, rng: random.Random, no_jitter: bool = False,
                 source: str = "") -> torch.Tensor:
        # During LR decay the reference sets load_size = crop_size, which removes the scale jitter.
        load = self.crop_size if no_jitter else self.load_size
        mode = self.preprocess
        if mode == "resize_and_crop":
            img = img.resize((load, load), _BICUBIC)
        elif mode.startswith("scale_width"):
            img = scale_width(img, load, self.crop_size)
        if mode.endswith("crop"):
            img = random_crop(self._at_least_crop(img, source), self.crop_size, rng)
        img = make_multiple(img)
        if self.flip and rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if self.augment is not None:  # draws last: without data.augment the crops and flips are unchanged
            img = self.augment(img, rng.getrandbits(32))
        return pil_to_tensor(img)

    def _at_least_crop(self, img: Image.Image, source: str) -> Image.Image:
        """Upscale (keeping the aspect) an image smaller than the crop instead of failing like the reference."""
        w, h = img.size
        c = self.crop_size
        if w >= c and h >= c:
            return img
        scale = c / min(w, h)
        size = (max(c, round(w * scale)), max(c, round(h * scale)))
        if not self._warned_small:
            self._warned_small = True
            name = f"{source} " if source else ""
            log.warning("image %s(%dx%d after preprocessing) is smaller than the %dx%d crop; upscaling it to "
                        "%dx%d keeping its aspect ratio (further small images are upscaled silently)",
                        name, w, h, c, c, *size)
        return img.resize(size, _BICUBIC)


class Albumentations:
    """A ``data.augment`` pipeline: PIL image and a 32-bit seed -> the augmented PIL image, same size.

    ``spec`` is albumentations' serialised form: ``A.to_dict(pipeline)``'s output, one transform's dict
    (``{"__class_fullname__": "HueSaturationValue", "p": 0.5}``), or a list of those (composed in order).
    Only albumentations' registered classes can be named, so a config cannot run arbitrary code.
    """

    def __init__(self, spec):
        try:
            import albumentations as A
        except ImportError:
            raise ConfigError("data.augment needs the albumentations package, from the optional extra 'augment': "
                              f"{install_hint('augment')}, or set data.augment=null") from None
        if isinstance(spec, list):
            spec = {"__class_fullname__": "Compose", "transforms": spec}
        if "transform" not in spec:
            spec = {"transform": spec}
        try:
            self.pipeline = A.from_dict(spec)
        except Exception as e:  # albumentations raises ValueError, KeyError, TypeError, pydantic errors ...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(f"data.augment: not an albumentations pipeline: {first} (write it as A.to_dict "
                              "writes it, e.g. [{__class_fullname__: HueSaturationValue, p: 0.5}])") from None
        self.spec = spec  # the serialised pipeline, as built

    def __call__(self, img: Image.Image, seed: int) -> Image.Image:
        arr = np.asarray(img.convert("RGB"))
        self.pipeline.set_random_seed(seed)  # every random draw of this call comes from the sample's seed
        out = self.pipeline(image=arr)["image"]
        if out.shape != arr.shape or out.dtype != np.uint8:
            raise ConfigError(f"data.augment: the pipeline changed the image from {arr.shape} uint8 to "
                              f"{out.shape} {out.dtype}; use size- and type-preserving transforms "
                              "(resizing and cropping are data.preprocess's job)")
        return Image.fromarray(out)


class TestTransform:
    """PIL image -> (3, size, size) tensor in [-1, 1]: a plain bicubic resize, no randomness.

    Used for sample grids and fixed test images; it takes the same arguments as TrainTransform so a
    dataset can use either.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, crop_size: int):
        self.crop_size = crop_size

    def __call__(self, img: Image.Image, rng: random.Random | None = None, no_jitter: bool = False,
                 source: str = "") -> torch.Tensor:
        return eval_transform(img, self.crop_size)


def eval_transform(img: Image.Image, size: int) -> torch.Tensor:
    """Resize to ``size`` x ``size`` (bicubic) -> (3, size, size) tensor in [-1, 1]."""
    if img.size != (size, size):
        img = img.resize((size, size), _BICUBIC)
    return pil_to_tensor(img)
