"""``translate demo [--ckpt CKPT | --runs DIR]``: a local web page for trying checkpoints (Gradio)."""
from __future__ import annotations

from translate.errors import TranslateError


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="open a web demo to try checkpoints",
                       description="Serve a web page (Gradio) where you pick a checkpoint from a runs folder and "
                                   "translate uploaded images. Binds to 127.0.0.1 unless --host says otherwise.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--ckpt", help="offer this one checkpoint (RUN/ckpt/latest.pt or a run folder)")
    src.add_argument("--runs", metavar="DIR", help="offer every RUN/ckpt/*.pt under this folder (default: runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (off by default)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--max-side", type=int, default=1024, metavar="PX",
                   help="resolution cap: larger images are downscaled to this longer side (0 = no cap)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB", help="upload size limit")
    p.set_defaults(run=run)


def run(args) -> int:
    from translate.app import Limits, launch_demo

    if args.port is not None and not 0 < args.port < 65536:
        raise TranslateError(f"--port: expected 1 to 65535, got {args.port}")
    if args.max_side < 0 or args.max_upload_mb <= 0:
        raise TranslateError("--max-side must be 0 or more and --max-upload-mb positive")
    limits = Limits(max_side=args.max_side, max_upload_mb=args.max_upload_mb)
    runs = args.runs if args.runs or args.ckpt else "runs"
    launch_demo(runs, args.ckpt, host=args.host, port=args.port, share=args.share, device=args.device,
                limits=limits)
    return 0
