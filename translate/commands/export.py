"""``translate export --ckpt CKPT --format onnx --out FILE``: G of a checkpoint as an ONNX model for other runtimes.

The checkpoint is given with ``--ckpt`` like apply and eval (``demo``: the bundled model) or, as before, as
the positional CKPT. ONNX needs the optional extra ``onnx``; without it the error names the install command.
"""
from __future__ import annotations

import logging
from pathlib import Path

from translate.atomic import atomic_open
from translate.errors import TranslateError

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a checkpoint's generator (ONNX)",
                       description="Write G (G_ema when saved) as an ONNX model with dynamic batch, height and "
                                   "width (multiples of 4); input 'a' and output 'b' are float NCHW in [-1, 1].")
    p.add_argument("ckpt_pos", metavar="CKPT", nargs="?", help="the checkpoint, as --ckpt (kept for older scripts)")
    p.add_argument("--ckpt", help="checkpoint file (RUN/ckpt/latest.pt), run folder, or 'demo' (the bundled demo model)")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="output format")
    p.add_argument("--out", help="output file (default: the checkpoint's name with .onnx; demo.onnx here for 'demo')")
    p.add_argument("--no-ema", action="store_true", help="export G rather than G_ema when both are saved")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(run=run)


def _checkpoint(args) -> tuple[Path, Path]:
    """The checkpoint (``demo`` resolved) and the default output file for it."""
    from translate.runfolder.bundled import is_bundled, resolve_checkpoint

    if args.ckpt and args.ckpt_pos and args.ckpt != args.ckpt_pos:
        raise TranslateError(f"export: two checkpoints given ({args.ckpt_pos} and --ckpt {args.ckpt}); give one")
    text = args.ckpt or args.ckpt_pos
    if not text:
        raise TranslateError("export: give the checkpoint with --ckpt CKPT (RUN/ckpt/latest.pt, a run folder or demo)")
    ckpt = resolve_checkpoint(text)
    if is_bundled(ckpt):
        return ckpt, Path("demo.onnx")  # never next to the package's own file
    return ckpt, ckpt / "ckpt" / "latest.onnx" if ckpt.is_dir() else ckpt.with_suffix(".onnx")


def run(args) -> int:
    from translate.extras import require
    from translate.runfolder.translator import load_translator

    ckpt, default = _checkpoint(args)
    require("onnx", "onnx", "translate export --format onnx")  # before the checkpoint loads
    from translate.inference import export_onnx

    out = Path(args.out) if args.out else default
    if out.exists() and not args.force:
        raise TranslateError(f"--out {out}: the file exists; choose another --out or pass --force to replace it")
    model = export_onnx(load_translator(ckpt, device="cpu", use_ema=not args.no_ema).G)
    with atomic_open(out) as fh:
        fh.write(model)
    log.info("wrote %s (%.1f MB)", out, len(model) / 2**20)
    return 0
