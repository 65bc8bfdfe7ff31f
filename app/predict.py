"""The demo's translation service: the CLI's own load_translator / translate_tensor, plus the page's limits.

Pixels take the path ``translate apply`` takes (``load_image`` -> ``pil_to_tensor`` -> ``translate_tensor``
-> ``save_image``), so an image under the resolution cap comes out bit-identical to the CLI's PNG.
What the web page adds: an upload size limit, a pixel limit checked before decoding, a resolution cap
(larger images are downscaled to it, and the page says so), a small model cache, and batch zips.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as Fn
from PIL import Image, UnidentifiedImageError

from translate.app.runs import CheckpointCatalog, CheckpointInfo
from translate.apply import translate_tensor
from translate.inference import build_backend
from translate.runfolder.translator import Translator, load_translator
from translate.datasets.imageio import load_image, pil_to_tensor, save_image
from translate.errors import CheckpointError, DataError, TranslateError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server."""

    max_side: int = 1024  # longer-side cap in pixels; larger images are downscaled to it (0 = no cap)
    max_upload_mb: float = 20.0  # files above this are refused
    max_pixels: int = 50_000_000  # images above this are refused before decoding (decompression bombs)
    max_batch: int = 32  # images per batch request
    max_refine_steps: int = 50  # upper end of the refinement slider
    max_queue: int = 16  # jobs waiting behind the running one; more are refused with "the queue is full"


@dataclass
class Result:
    """One translated image and what the page reports about it."""

    image: torch.Tensor  # (3, H, W) in [-1, 1], the translated output
    png: Path  # the output written as a PNG (served for display and download)
    seconds: float  # time spent in the network(s), refinement included
    in_size: tuple[int, int]  # (W, H) of the upload
    out_size: tuple[int, int]  # (W, H) of the output; smaller than in_size when the cap applied
    refine_steps: int = 0  # Langevin steps applied after G

    @property
    def downscaled(self) -> bool:
        return self.out_size != self.in_size


@dataclass
class BatchResult:
    results: list[Result] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    zip_path: Path | None = None  # every output PNG, zipped


def capped_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """(W, H) scaled down so the longer side is at most ``max_side``, aspect ratio kept."""
    if max_side <= 0 or max(w, h) <= max_side:
        return w, h
    s = max_side / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU · {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU · {torch.get_num_threads()} thread(s)"


class DemoService:
    """Translates uploaded files with checkpoints from a catalog; one model is kept loaded at a time."""

    def __init__(self, catalog: CheckpointCatalog, device: torch.device, limits: Limits = Limits(),
                 out_dir: str | Path | None = None, cache_size: int = 2):
        self.catalog = catalog  # the only source of checkpoint paths
        self.device = device  # where G (and D) run
        self.limits = limits
        self.out_dir = Path(out_dir or Path(tempfile.gettempdir()) / "translate-demo")  # output PNGs and zips
        self.cache_size = cache_size  # translators kept in memory (LRU)
        self._models: OrderedDict[tuple, Translator] = OrderedDict()
        self._lock = threading.Lock()

    # -- models ------------------------------------------------------------------------------

    def _load(self, info: CheckpointInfo) -> Translator:
        """The translator of a catalog entry, through translate.runfolder's load_translator (weights_only);
        its G runs on apply's default backend."""
        st = info.path.stat()
        key = (info.path, st.st_mtime_ns)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            log.info("demo: loading %s on %s", info.path, self.device)
            loaded = load_translator(info.path, device=self.device, with_discriminator=True)
            loaded = replace(loaded, G=build_backend(loaded.G, "auto", self.device))
            self._models[key] = loaded
            while len(self._models) > self.cache_size:
                self._models.popitem(last=False)
            return loaded

    def _refiner(self, info: CheckpointInfo, translator: Translator, steps: int):
        if steps <= 0:
            return None
        if translator.D is None or not info.has_D:
            raise CheckpointError(f"{info.run}: this checkpoint has no D, so it cannot refine; set steps to 0")
        return translator.refiner(steps)

    # -- inputs ------------------------------------------------------------------------------

    def check_upload(self, path: Path, name: str) -> tuple[int, int]:
        """Refuse files over the size limit, non-images and pixel bombs before decoding; returns (W, H)."""
        mb = os.path.getsize(path) / 2**20
        if mb > self.limits.max_upload_mb:
            raise DataError(f"{name}: {mb:.1f} MB is over this demo's upload limit of "
                            f"{self.limits.max_upload_mb:g} MB")
        try:
            with Image.open(path) as img:  # reads the header only
                w, h = img.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise DataError(f"{name}: not an image this demo can read (use PNG, JPEG, WebP, BMP or TIFF)") from None
        if w * h > self.limits.max_pixels:
            raise DataError(f"{name}: {w}×{h} is {w * h / 1e6:.0f} megapixels, over this demo's limit of "
                            f"{self.limits.max_pixels / 1e6:.0f}")
        return w, h

    def _read(self, path: Path, name: str) -> torch.Tensor:
        """(1, 3, H, W) in [-1, 1], downscaled to the resolution cap when larger (call check_upload first)."""
        try:
            x = pil_to_tensor(load_image(path))[None]  # (1, 3, H, W)
        except DataError as e:  # name the upload, not the server's temporary path
            raise DataError(str(e).replace(str(path), name)) from None
        h, w = x.shape[-2:]
        cw, ch = capped_size(w, h, self.limits.max_side)
        if (cw, ch) != (w, h):
            x = Fn.interpolate(x, size=(ch, cw), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
        return x

    # -- translation -------------------------------------------------------------------------

    def translate_file(self, path: str | Path, label: str, refine_steps: int = 0, name: str | None = None,
                       out_dir: Path | None = None) -> Result:
        """Translate one uploaded file with the catalog entry ``label``; the PNG goes to a fresh folder."""
        path = Path(path)
        name = name or path.name
        info = self.catalog.get(label)
        steps = int(refine_steps or 0)
        if not 0 <= steps <= self.limits.max_refine_steps:
            raise TranslateError(f"refinement steps: expected 0 to {self.limits.max_refine_steps}, got {steps}")
        in_w, in_h = self.check_upload(path, name)
        translator = self._load(info)
        refine = self._refiner(info, translator, steps)
        x = self._read(path, name)
        t0 = time.perf_counter()
        y = translate_tensor(translator.G, x, self.device, refine=refine)[0]  # (3, H, W) on the CPU
        seconds = time.perf_counter() - t0
        folder = out_dir or self._fresh_dir()
        png = save_image(y, folder / f"{Path(name).stem}_translated.png")
        return Result(image=y, png=png, seconds=seconds, in_size=(in_w, in_h),
                      out_size=(y.shape[-1], y.shape[-2]), refine_steps=steps)

    def translate_batch(self, files: list[tuple[str | Path, str]], label: str, refine_steps: int = 0) -> BatchResult:
        """Translate (path, display name) pairs; bad files are reported and skipped, the rest zipped."""
        if len(files) > self.limits.max_batch:
            raise DataError(f"{len(files)} files: this demo translates at most {self.limits.max_batch} per batch")
        self.catalog.get(label)  # fail once, up front, for an unknown checkpoint
        batch = BatchResult()
        folder = self._fresh_dir()
        used: set[str] = set()
        for path, name in files:
            stem, n = Path(name).stem, 1
            while stem in used:  # two uploads called a.png and a.jpg must not overwrite each other
                stem, n = f"{Path(name).stem}_{n}", n + 1
            used.add(stem)
            try:
                batch.results.append(self.translate_file(path, label, refine_steps, name=stem + ".png",
                                                         out_dir=folder))
            except DataError as e:
                batch.failed.append((name, str(e)))
        if batch.results:
            batch.zip_path = folder / "translated.zip"
            with zipfile.ZipFile(batch.zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
                for r in batch.results:  # PNGs are compressed already
                    zf.write(r.png, arcname=r.png.name)
        return batch

    def _fresh_dir(self, keep_s: float = 3600.0) -> Path:
        """A new folder for one request's outputs; folders older than ``keep_s`` are removed on the way.

        Gradio serves copies from its own cache, so these are only needed until the response is sent.
        """
        now = time.time()
        if self.out_dir.is_dir():
            for old in self.out_dir.iterdir():
                try:
                    if old.is_dir() and now - old.stat().st_mtime > keep_s:
                        shutil.rmtree(old, ignore_errors=True)
                except OSError:  # another demo process removed it first
                    pass
        folder = self.out_dir / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        return folder
