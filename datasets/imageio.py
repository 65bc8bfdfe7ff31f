"""Image files <-> tensors: the only module that touches uint8 pixels.

Everything else in the project sees images as float tensors in [-1, 1] (CHW here, NCHW in batches).
``load_image`` turns any common file (greyscale, alpha, palette, CMYK, 16-bit, EXIF-rotated) into an
8-bit RGB ``PIL.Image`` and reports unreadable files as a :class:`DataError` that names the file.
"""
from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from translate.errors import DataError
from translate.atomic import atomic_open

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# Folders that archivers leave behind and that only hold metadata ("._x.jpg" resource forks).
_JUNK_DIRS = {"__MACOSX"}

# Modes whose samples are wider than 8 bits; PIL's own convert("RGB") would clip them at 255.
_WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def is_image_file(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def not_regular_reason(path: str | os.PathLike) -> str | None:
    """Why ``path`` (links followed) is not a regular file that can be read without blocking, or None.

    Opening a named pipe blocks until a writer appears, so a FIFO called ``x.png`` would hang a loader.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "not a regular file")
    return f"is {kind}, not a regular file"


def find_images(folder: str | os.PathLike, skipped: list[tuple[str, str]] | None = None) -> list[Path]:
    """Image files under ``folder``, recursively and sorted; hidden files and hidden folders are skipped.

    Only names *below* ``folder`` count as hidden, so a dataset under ``~/.cache`` is still found.
    Symlinked folders are followed once (their real path is remembered to avoid cycles). Names with an
    image extension that are not regular files (named pipes, sockets, devices) are left out with a
    warning. ``skipped``, when given, receives (path, reason) for those and for every other visible file
    that is not a supported image (``.gif``, ``.txt``...), so a caller can report them.
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
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            if not is_image_file(name):
                if skipped is not None:
                    skipped.append((str(path), f"not a supported image type ({', '.join(IMAGE_EXTENSIONS)})"))
                continue
            problem = not_regular_reason(path)
            if problem:
                log.warning("skipping %s: %s", path, problem)
                if skipped is not None:
                    skipped.append((str(path), problem))
                continue
            found.append(path)
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


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> Image.Image:
    """Read ``path`` as an 8-bit RGB image, upright according to its EXIF orientation.

    Raises DataError naming the file when it is missing, not a regular file (a named pipe would block),
    not an image, corrupt, truncated, in a mode that cannot be converted, larger than
    ``PIL.Image.MAX_IMAGE_PIXELS`` (a decompression bomb), or, when ``max_pixels`` is given, with more
    pixels than that (checked from the header, before any pixel memory is allocated).
    """
    problem = not_regular_reason(path)
    if problem and Path(path).exists():
        raise DataError(f"{path}: {problem}")
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that; a dataset loader should refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_pixels(path, img.size, max_pixels)
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


def _check_pixels(path, size: tuple[int, int], max_pixels: int | None) -> None:
    w, h = size
    if max_pixels and w * h > max_pixels:
        side = int((max_pixels * w / h) ** 0.5) if w >= h else int((max_pixels * h / w) ** 0.5)
        raise DataError(f"{path}: {w}x{h} is {w * h / 1e6:.1f} megapixels, more than the limit of "
                        f"{max_pixels / 1e6:.1f}; resize it (to at most about {side} px on the longer side) "
                        "or raise the limit (apply: --max-pixels)")


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


def tile_images(tiles: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 1.0) -> torch.Tensor:
    """(N, 3, H, W) images -> one (3, H', W') grid of ``nrow`` per row, ``padding`` px of ``pad_value`` around
    each, row by row (the layout of torchvision's make_grid; training no longer imports torchvision, which
    costs about 0.25 s of CPU at every start on top of torch and torch._dynamo: docs/benchmarks.md)."""
    n, c, h, w = tiles.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = tiles.new_full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value)
    for i, tile in enumerate(tiles):
        y, x = padding + (i // cols) * (h + padding), padding + (i % cols) * (w + padding)
        grid[:, y:y + h, x:x + w] = tile
    return grid


def _image_format(suffix: str) -> str | None:
    """PIL's format name for a file extension; the common ones without loading all of PIL's plugins."""
    Image.preinit()  # BMP, GIF, JPEG, PPM, PNG: Image.init() would import every plugin (~0.1 s)
    return Image.EXTENSION.get(suffix) or Image.registered_extensions().get(suffix)


def save_image(t: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write a (3, H, W) tensor in [-1, 1] to ``path`` (format from the extension), creating its folder.

    Atomic: the image goes to a hidden temp file in the same folder, then replaces ``path``, so a full
    disk or a kill leaves either the old file or none, never a truncated or 0-byte one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = _image_format(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"save_image: unknown image extension in {path}")
    img = tensor_to_pil(t)
    with atomic_open(path) as fh:
        img.save(fh, format=fmt)
    return path
