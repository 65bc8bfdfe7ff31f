"""``translate apply --ckpt CKPT INPUT... --out DIR``: translate images of any size with a checkpoint."""
from __future__ import annotations

import logging
import sys

from translate.errors import TranslateError
from translate.progress import Progress

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("apply", help="translate images with a trained checkpoint",
                       description="Translate files, folders (recursively) and globs; outputs are PNGs with "
                                   "the input names and sizes.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument("--ckpt", required=True, help="checkpoint file (RUN/ckpt/latest.pt), run folder, or 'demo' "
                                                 "(the bundled demo model)")
    p.add_argument("--out", required=True, help="output folder (created if missing); it may not hold an input")
    p.add_argument("--overwrite", action="store_true",
                   help="replace files of the same name already in --out (refused by default)")
    p.add_argument("--max-pixels", type=float, default=None, metavar="MP",
                   help="skip images larger than this many megapixels, before decoding them (default 16.8, "
                        "4096x4096; 0 = no limit)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=1, help="images per forward pass (same-size images only)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "channels_last", "bf16", "compile", "onnxruntime"),
                   help="how G runs (translate/inference.py); auto: the fastest measured for this device")
    p.add_argument("--no-ema", action="store_true", help="use G rather than G_ema when both are saved")
    p.add_argument("--refine-steps", type=int, default=0, metavar="N",
                   help="test-time refinement: N Langevin steps under the checkpoint's D as an energy (CoopInit)")
    p.add_argument("--refine-step-size", type=float, default=None, metavar="S",
                   help="RMS pixel move per refinement step (default: the checkpoint's coop.step_size)")
    p.set_defaults(run=run)


def _build_refine(args, translator):
    """The Langevin refiner for --refine-steps, or None."""
    if args.refine_steps < 0:
        raise TranslateError(f"--refine-steps: expected zero or more, got {args.refine_steps}")
    if args.refine_steps == 0:
        return None
    if translator.D is None:
        raise TranslateError(f"--refine-steps: checkpoint '{args.ckpt}' holds no discriminator D to use as the "
                             "energy; use a training checkpoint (RUN/ckpt/latest.pt) or drop --refine-steps")
    step_size = translator.cfg.coop.step_size if args.refine_step_size is None else args.refine_step_size
    if step_size <= 0:
        raise TranslateError(f"--refine-step-size: expected a positive number, got {step_size}")
    return translator.refiner(args.refine_steps, step_size)


def run(args) -> int:
    from translate.apply import MAX_PIXELS, apply_plan, plan_apply
    from translate.runfolder.bundled import resolve_checkpoint
    from translate.runfolder.translator import load_translator
    from translate.engine.device import resolve_device

    if args.batch_size < 1:
        raise TranslateError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    if args.max_pixels is not None and not args.max_pixels >= 0:
        raise TranslateError(f"--max-pixels: expected zero or more megapixels, got {args.max_pixels}")
    max_pixels = MAX_PIXELS if args.max_pixels is None else int(args.max_pixels * 1e6) or None
    args.ckpt = str(resolve_checkpoint(args.ckpt))  # 'demo' is the bundled model
    plan = plan_apply(args.inputs, args.out, overwrite=args.overwrite)  # checks --out before the slow load
    device = resolve_device(args.device)
    translator = load_translator(args.ckpt, device=device, use_ema=not args.no_ema, with_discriminator=True)
    refine = _build_refine(args, translator)
    from translate.inference import build_backend

    G = build_backend(translator.G, args.backend, device)
    bar = Progress(len(plan.items), label="apply", unit="img")
    try:
        report = apply_plan(G, plan, device, batch_size=args.batch_size, refine=refine,
                            progress=lambda done, total: bar.update(done), max_pixels=max_pixels)
    finally:
        bar.close()  # end the progress line, also when a write fails: the error gets a line of its own
    log.info("wrote %d image(s) to %s", len(report.written), args.out)
    for src, reason in report.skipped:
        print(f"skipped: {src}: {reason}", file=sys.stderr)
    if report.failed:
        for src, reason in report.failed:
            print(f"failed: {src}: {reason}", file=sys.stderr)
        print(f"error: {len(report.failed)} input(s) could not be translated", file=sys.stderr)
        return 1
    if not report.written:
        raise TranslateError("no images found in the given inputs")
    return 0
