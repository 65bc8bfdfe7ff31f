"""``translate demo [--ckpt CKPT | --runs DIR]``: a local web page for trying checkpoints (Gradio).

With neither option it serves the bundled demo checkpoint (translate/runfolder/bundled.py), so the page
works right after install, before any training.
"""
from __future__ import annotations

from translate.errors import TranslateError


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="open a web demo to try checkpoints",
                       description="Serve a web page (Gradio) where you translate uploaded or example images with "
                                   "a checkpoint: the bundled demo model by default, one --ckpt, or any from a "
                                   "--runs folder. Binds to 127.0.0.1 unless --host says otherwise.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--ckpt", help="offer this one checkpoint (RUN/ckpt/latest.pt, a run folder, or 'demo': the "
                                    "bundled model, the default when neither --ckpt nor --runs is given)")
    src.add_argument("--runs", metavar="DIR", help="offer every RUN/ckpt/*.pt under this folder (e.g. runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (off by default)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--max-side", type=int, default=1024, metavar="PX",
                   help="resolution cap: larger images are downscaled to this longer side (0 = no cap)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB", help="upload size limit")
    p.add_argument("--max-queue", type=int, default=16, metavar="N",
                   help="requests that may wait behind the running one; more are refused with a message (default 16)")
    p.set_defaults(run=run)


def run(args) -> int:
    from translate.app import Limits, launch_demo
    from translate.runfolder.bundled import NAME, resolve_checkpoint

    if args.port is not None and not 0 < args.port < 65536:
        raise TranslateError(f"--port: expected 1 to 65535, got {args.port}")
    if args.max_side < 0 or args.max_upload_mb <= 0:
        raise TranslateError("--max-side must be 0 or more and --max-upload-mb positive")
    if args.max_queue < 1:
        raise TranslateError(f"--max-queue: expected 1 or more, got {args.max_queue}")
    limits = Limits(max_side=args.max_side, max_upload_mb=args.max_upload_mb, max_queue=args.max_queue)
    ckpt = None if args.runs else resolve_checkpoint(args.ckpt or NAME)
    launch_demo(args.runs, ckpt, host=args.host, port=args.port, share=args.share, device=args.device,
                limits=limits)
    return 0
