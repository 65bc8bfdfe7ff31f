"""Apply a trained translator to files, folders and globs, at any size and aspect ratio.

Each image is padded to the generator's multiple (reflection, or replication for tiny images), translated
and cropped back, so outputs have exactly the input's size. A bad input is reported and skipped.
"""
from __future__ import annotations

import glob
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as Fn

from translate.datasets.imageio import find_images, load_image, pil_to_tensor, save_image
from translate.errors import TranslateError

log = logging.getLogger(__name__)
MIN_SIDE = 16  # below this the residual blocks' reflection padding has nothing to reflect


@dataclass
class ApplyReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)


def collect_inputs(inputs: list[str]) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Expand files, folders (recursively) and globs into (image path, relative output path) pairs."""
    items: list[tuple[Path, Path]] = []
    missing: list[tuple[str, str]] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = find_images(path)
            if not found:
                missing.append((text, "folder holds no images (jpg, jpeg, png, webp, bmp, tif)"))
            items += [(f, f.relative_to(path).with_suffix(".png")) for f in found]
        elif path.is_file():
            items.append((path, Path(path.stem + ".png")))
        else:
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                missing.append((text, "no such file, folder or glob match"))
            items += [(Path(m), Path(Path(m).stem + ".png")) for m in matches if Path(m).is_file()]
    return _dedupe_names(items), missing


def _dedupe_names(items: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Two inputs with the same stem (a.jpg, a.png) must not overwrite each other's output."""
    seen: dict[Path, int] = {}
    out = []
    for src, rel in items:
        n = seen.get(rel, 0)
        seen[rel] = n + 1
        out.append((src, rel if n == 0 else rel.with_name(f"{rel.stem}_{n}{rel.suffix}")))
    return out


def pad_to_multiple(x: torch.Tensor, multiple: int, min_side: int = MIN_SIDE) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, 3, H, W) on the bottom and right to a multiple of ``multiple``; returns (padded, (H, W))."""
    h, w = x.shape[-2:]
    th = max(math.ceil(h / multiple) * multiple, min_side)
    tw = max(math.ceil(w / multiple) * multiple, min_side)
    ph, pw = th - h, tw - w
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return Fn.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


@torch.no_grad()
def translate_tensor(G: torch.nn.Module, x: torch.Tensor, device: torch.device,
                     refine: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> translated (B, 3, H, W) on the CPU; ``refine`` revises G's output."""
    multiple = getattr(G, "multiple", 4)
    padded, (h, w) = pad_to_multiple(x.to(device), multiple)
    y = G(padded)
    if refine is not None:
        with torch.enable_grad():
            y = refine(y)
    return y[..., :h, :w].float().clamp(-1, 1).cpu()


def _batches(items: list[tuple[Path, Path]], batch_size: int, report: ApplyReport):
    """Decode images, skipping bad ones, and group consecutive images of equal size into batches."""
    group: list[tuple[torch.Tensor, Path, Path]] = []
    for src, rel in items:
        try:
            x = pil_to_tensor(load_image(src))
        except TranslateError as e:
            log.warning("skipping %s: %s", src, e)
            report.failed.append((str(src), str(e)))
            continue
        if group and (group[0][0].shape != x.shape or len(group) >= batch_size):
            yield group
            group = []
        group.append((x, src, rel))
    if group:
        yield group


def apply_paths(G: torch.nn.Module, inputs: list[str], out_dir: str | Path, device: torch.device,
                batch_size: int = 1, refine=None, progress: Callable[[int, int], None] | None = None) -> ApplyReport:
    """Translate every image found in ``inputs`` into ``out_dir`` as PNG, keeping names (and subfolders)."""
    out_dir = Path(out_dir)
    items, missing = collect_inputs(inputs)
    report = ApplyReport(failed=list(missing))
    for text, reason in missing:
        log.warning("skipping %s: %s", text, reason)
    done = 0
    for group in _batches(items, max(1, batch_size), report):
        x = torch.stack([g[0] for g in group])  # (B, 3, H, W)
        y = translate_tensor(G, x, device, refine)
        for out, (_, src, rel) in zip(y, group):
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            save_image(out, dest)
            report.written.append(dest)
        done += len(group)
        if progress:
            progress(done, len(items))
    return report
