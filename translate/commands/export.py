"""``translate export CKPT --format onnx --out FILE``: G of a checkpoint as an ONNX model for other runtimes."""
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
    p.add_argument("ckpt", metavar="CKPT", help="checkpoint file (RUN/ckpt/latest.pt) or run folder")
    p.add_argument("--format", default="onnx", choices=("onnx",), help="output format")
    p.add_argument("--out", help="output file (default: the checkpoint's name with .onnx)")
    p.add_argument("--no-ema", action="store_true", help="export G rather than G_ema when both are saved")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.set_defaults(run=run)


def run(args) -> int:
    from translate.runfolder.translator import load_translator
    from translate.inference import export_onnx

    ckpt = Path(args.ckpt)
    default = ckpt / "ckpt" / "latest.onnx" if ckpt.is_dir() else ckpt.with_suffix(".onnx")
    out = Path(args.out) if args.out else default
    if out.exists() and not args.force:
        raise TranslateError(f"--out {out}: the file exists; choose another --out or pass --force to replace it")
    model = export_onnx(load_translator(args.ckpt, device="cpu", use_ema=not args.no_ema).G)
    with atomic_open(out) as fh:
        fh.write(model)
    log.info("wrote %s (%.1f MB)", out, len(model) / 2**20)
    return 0
