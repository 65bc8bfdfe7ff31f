"""Apply a trained translator to files, folders and globs, at any size and aspect ratio.

Each image is padded to the generator's multiple (reflection, or replication for tiny images), translated
and cropped back, so outputs have exactly the input's size. A bad input is reported and skipped.

Nothing is lost: the output folder is checked before anything runs (it may not hold an input, and files
already in it are replaced only with ``overwrite``), output names are unique within a run, and each output
is written atomically, so a full disk leaves no truncated file. Named pipes are never opened.
"""
from __future__ import annotations

import errno
import glob
import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as Fn

from translate.datasets.imageio import find_images, load_image, not_regular_reason, pil_to_tensor, save_image
from translate.errors import TranslateError

log = logging.getLogger(__name__)
MIN_SIDE = 16  # below this the residual blocks' reflection padding has nothing to reflect
# Largest image translated at full size by default (4096 x 4096). G's first layers keep ngf channels at full
# resolution in float32, so memory grows as pixels x ngf x 4 bytes: 16.8 MP x 64 x 4 B is already 4.3 GB a layer.
MAX_PIXELS = 4096 * 4096


@dataclass
class ApplyReport:
    written: list[Path] = field(default_factory=list)  # files actually written, in order
    failed: list[tuple[str, str]] = field(default_factory=list)  # (input, reason): an input that was meant to work
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): not a supported regular image


def collect_inputs(inputs: list[str], skipped: list[tuple[str, str]] | None = None
                   ) -> tuple[list[tuple[Path, Path]], list[tuple[str, str]]]:
    """Expand files, folders (recursively) and globs into (image path, relative output path) pairs.

    Folders contribute their supported image files; ``skipped`` (when given) receives the other files met
    (a ``.gif``, a named pipe) with the reason. Output names are unique (see :func:`unique_names`).
    """
    items: list[tuple[Path, Path]] = []
    missing: list[tuple[str, str]] = []
    skipped = [] if skipped is None else skipped
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = find_images(path, skipped)
            if not found:
                missing.append((text, "folder holds no images (jpg, jpeg, png, webp, bmp, tif)"))
            items += [(f, f.relative_to(path).with_suffix(".png")) for f in found]
        elif path.exists():
            _add_file(path, items, skipped)
        else:
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                missing.append((text, "no such file, folder or glob match"))
            for m in matches:
                if not Path(m).is_dir():
                    _add_file(Path(m), items, skipped)
    return unique_names(items), missing


def _add_file(path: Path, items: list[tuple[Path, Path]], skipped: list[tuple[str, str]]) -> None:
    """A file named on the command line (or by a glob): kept unless it is not a regular file."""
    problem = not_regular_reason(path)
    if problem:  # opening a named pipe would block apply forever
        log.warning("skipping %s: %s", path, problem)
        skipped.append((str(path), problem))
        return
    items.append((path, Path(path.stem + ".png")))


def unique_names(items: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Give every input its own output name, so no output replaces another written in the same run.

    ``a.png`` keeps ``a.png``; when another input would also become ``a.png`` (``a.jpg``), that one keeps
    its extension in the stem (``a.jpg.png``). A name still taken gets ``_1``, ``_2``... Names are compared
    case-insensitively, as on macOS and Windows disks.
    """
    natural = Counter(rel.as_posix().lower() for _, rel in items)
    used: set[str] = set()
    out = []
    for src, rel in items:
        if natural[rel.as_posix().lower()] > 1 and src.suffix.lower() != ".png":
            rel = rel.with_name(src.name + ".png")
        cand, n = rel, 0
        while cand.as_posix().lower() in used:
            n += 1
            cand = rel.with_name(f"{rel.stem}_{n}{rel.suffix}")
        used.add(cand.as_posix().lower())
        out.append((src, cand))
    return out


def check_out_dir(out_dir: Path, items: list[tuple[Path, Path]], overwrite: bool = False) -> None:
    """Refuse an output folder that is a file, would hold an input, or already holds an output's name.

    Raises TranslateError before anything is translated, so a refused run changes nothing on disk.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise TranslateError(f"--out {out_dir}: is an existing file, not a folder; give a folder path")
    real_out = out_dir.resolve()
    for src, _ in items:
        real = src.resolve()
        if real_out == real.parent or real_out in real.parents:
            raise TranslateError(f"--out {out_dir}: holds the input {src}, so outputs could replace inputs; "
                                 "choose an output folder outside the input folders")
    if overwrite:
        return
    clashes = [out_dir / rel for _, rel in items if (out_dir / rel).exists()]
    if clashes:
        raise TranslateError(f"--out {out_dir}: {len(clashes)} output file(s) already exist (e.g. {clashes[0]}); "
                             "choose a new folder, or pass --overwrite to replace them")


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


def _batches(items: list[tuple[Path, Path]], batch_size: int, report: ApplyReport, max_pixels: int | None):
    """Decode images, skipping bad ones, and group consecutive images of equal size into batches."""
    group: list[tuple[torch.Tensor, Path, Path]] = []
    for src, rel in items:
        try:
            x = pil_to_tensor(load_image(src, max_pixels=max_pixels))
        except TranslateError as e:
            log.warning("skipping %s: %s", src, e)
            report.failed.append((str(src), str(e)))
            continue
        except MemoryError:
            _out_of_memory(report, src, "decoding it")
            continue
        if group and (group[0][0].shape != x.shape or len(group) >= batch_size):
            yield group
            group = []
        group.append((x, src, rel))
    if group:
        yield group


def _is_out_of_memory(e: BaseException) -> bool:
    """CPU allocators raise RuntimeError("... can't allocate memory ..."), CUDA an OutOfMemoryError."""
    text = str(e).lower()
    return isinstance(e, MemoryError) or "out of memory" in text or "can't allocate memory" in text


def _out_of_memory(report: ApplyReport, src: Path, doing: str) -> None:
    reason = (f"out of memory while {doing}; resize the image (for example to half its width and height), "
              "use --batch-size 1, or another --device with more memory")
    log.warning("skipping %s: %s", src, reason)
    report.failed.append((str(src), reason))


def _write(out: torch.Tensor, dest: Path, report: ApplyReport) -> None:
    """Write one output atomically; a disk that is full or read-only stops the run with one line."""
    try:
        save_image(out, dest)
    except OSError as e:
        hint = {errno.ENOSPC: "free some space or choose another --out",
                errno.EDQUOT: "free some space or choose another --out",
                errno.EROFS: "choose a writable --out", errno.EACCES: "choose a writable --out"}
        raise TranslateError(f"cannot write {dest}: {e.strerror or e}; {hint.get(e.errno, 'choose another --out')} "
                             f"({len(report.written)} image(s) written before it are kept)") from None
    report.written.append(dest)


@dataclass
class ApplyPlan:
    """What an apply run will do, decided (and checked) before any checkpoint is loaded or file written."""
    out_dir: Path
    items: list[tuple[Path, Path]]  # (input image, output path relative to out_dir)
    report: ApplyReport  # already holds the missing inputs and the skipped files


def plan_apply(inputs: list[str], out_dir: str | Path, overwrite: bool = False) -> ApplyPlan:
    """Collect the inputs, name the outputs and check ``out_dir`` (see :func:`check_out_dir`)."""
    out_dir = Path(out_dir)
    report = ApplyReport()
    items, missing = collect_inputs(inputs, report.skipped)
    report.failed += missing
    check_out_dir(out_dir, items, overwrite)
    for text, reason in missing:
        log.warning("skipping %s: %s", text, reason)
    return ApplyPlan(out_dir, items, report)


def apply_paths(G: torch.nn.Module, inputs: list[str], out_dir: str | Path, device: torch.device,
                batch_size: int = 1, refine=None, progress: Callable[[int, int], None] | None = None,
                overwrite: bool = False, max_pixels: int | None = MAX_PIXELS) -> ApplyReport:
    """Translate every image found in ``inputs`` into ``out_dir`` as PNG, keeping names (and subfolders).

    Refuses (TranslateError, before writing anything) an ``out_dir`` that is a file, that holds an input,
    or that already holds a file of an output's name unless ``overwrite``. ``max_pixels``: larger images
    are reported and skipped before they are decoded (None or 0: no limit).
    """
    return apply_plan(G, plan_apply(inputs, out_dir, overwrite), device, batch_size, refine, progress, max_pixels)


def apply_plan(G: torch.nn.Module, plan: ApplyPlan, device: torch.device, batch_size: int = 1, refine=None,
               progress: Callable[[int, int], None] | None = None, max_pixels: int | None = MAX_PIXELS) -> ApplyReport:
    """Translate the images of ``plan``; returns its report, ``written`` holding the files actually written."""
    report, done = plan.report, 0
    for group in _batches(plan.items, max(1, batch_size), report, max_pixels):
        x = torch.stack([g[0] for g in group])  # (B, 3, H, W)
        try:
            y = translate_tensor(G, x, device, refine)
        except (RuntimeError, MemoryError) as e:
            if not _is_out_of_memory(e):
                raise
            del x
            for _, src, _ in group:
                _out_of_memory(report, src, f"translating it ({group[0][0].shape[2]}x{group[0][0].shape[1]})")
            continue
        for out, (_, src, rel) in zip(y, group):
            dest = plan.out_dir / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise TranslateError(f"cannot create the output folder {dest.parent}: {e.strerror or e}; "
                                     "choose a writable --out") from None
            _write(out, dest, report)
        done += len(group)
        if progress:
            progress(done, len(plan.items))
    return report
