"""Image files <-> tensors: the only module that touches uint8 pixels.

Everything else in the project sees images as float tensors in [-1, 1] (CHW here, NCHW in batches).
``load_image`` turns any common file (greyscale, alpha, palette, CMYK, 16-bit, EXIF-rotated) into an
8-bit RGB ``PIL.Image`` and reports unreadable files as a :class:`DataError` that names the file.
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from translate.errors import DataError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# Folders that archivers leave behind and that only hold metadata ("._x.jpg" resource forks).
_JUNK_DIRS = {"__MACOSX"}

# Modes whose samples are wider than 8 bits; PIL's own convert("RGB") would clip them at 255.
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def is_image_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def find_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder``, recursively and sorted; hidden files and hidden folders are skipped.

    Only names *below* ``folder`` count as hidden, so a dataset under ``~/.cache`` is still found.
    Symlinked folders are followed once (their real path is remembered to avoid cycles).
    """
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"not a folder: {root}")
    found: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _JUNK_DIRS]
        found.extend(Path(dirpath) / f for f in filenames if not f.startswith(".") and is_image_file(f))
    # Sort on the path relative to the root so the order (and so the sampling) is the same on every machine.
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _wide_to_8bit(img: Image.Image) -> Image.Image:
    """Scale a 16-bit (or 32-bit int / float) greyscale image to 8 bits instead of clipping it.

    PIL opens 16-bit PNG and TIFF files as ``I;16*`` or ``I`` with samples in 0..65535, so integer modes
    are divided by 257 (65535 -> 255 exactly). Float images are taken to be in [0, 1].
    """
    arr = np.asarray(img)
    if img.mode == "F":
        scaled = np.clip(arr.astype(np.float64), 0.0, 1.0) * 255.0
    else:
        scaled = np.clip(arr.astype(np.float64), 0, 65535) / 257.0
    return Image.fromarray(np.rint(scaled).astype(np.uint8))  # (H, W) uint8 -> mode L


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any mode. Alpha is dropped, not composited: transparent pixels keep their colour.

    Dropping alpha is what training images need (the colour under a transparent pixel is usually a
    plausible background, and compositing over white would invent one).
    """
    if img.mode in _WIDE_MODES:
        img = _wide_to_8bit(img)
    elif img.mode == "P":
        # Via RGBA so palettes with a transparency entry convert without PIL's warning.
        img = img.convert("RGBA")
    return img if img.mode == "RGB" else img.convert("RGB")


def load_image(path: str | os.PathLike) -> Image.Image:
    """Read ``path`` as an 8-bit RGB image, upright according to its EXIF orientation.

    Raises DataError naming the file when it is missing, not an image, corrupt, truncated, in a mode
    that cannot be converted, or larger than ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb).
    """
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that; a dataset loader should refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()  # decode now, inside the try: Image.open only reads the header
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{path}: image refused as too large ({e})") from None
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnidentifiedImageError:
        raise DataError(f"{path}: not a readable image file") from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError) as e:
        # PIL reports truncated and corrupt data with any of these, depending on the decoder.
        raise DataError(f"{path}: corrupt or unreadable image ({type(e).__name__}: {e})") from None


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB PIL image -> (3, H, W) float32 tensor in [-1, 1]."""
    if img.mode != "RGB":
        img = _to_rgb(img)
    arr = np.asarray(img, dtype=np.uint8)  # (H, W, 3)
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).float()  # (3, H, W)
    return t.div_(127.5).sub_(1.0)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """A (3, H, W) tensor in [-1, 1] (or a batch of one) -> RGB PIL image; values are clamped and rounded."""
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"tensor_to_pil expects a (3, H, W) image tensor, got shape {tuple(t.shape)}")
    t = t.detach().to("cpu", torch.float32)
    arr = ((t.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)  # (3, H, W)
    return Image.fromarray(arr.permute(1, 2, 0).contiguous().numpy())  # (H, W, 3) uint8 -> RGB


def save_image(t: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a (3, H, W) tensor in [-1, 1] to ``path`` (format from the extension), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(t).save(path)
    return path
