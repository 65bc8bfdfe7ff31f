"""Seconds per image of each apply backend (translate/inference.py), interleaved, and its output difference.

    python benchmarks/inference_paths.py --size 256 --rounds 5
    python benchmarks/inference_paths.py --ckpt RUN/ckpt/latest.pt --size 1024 --paths torch,bf16,onnxruntime

Every round runs each path once on the same (1, 3, size, size) image, so the machine's load falls on all
alike; the table gives the fastest and the median seconds, the median's ratio to ``torch`` and the largest
per-pixel difference from fp32 PyTorch (images in [-1, 1]). Without ``--ckpt`` G is freshly initialised at
the cut preset's size (``--set model.ngf=32`` etc. to change it); a trained G gives the more telling
difference. ``inference_mode`` is G under ``torch.inference_mode`` instead of ``no_grad`` (not a backend:
measured here to decide whether to adopt it). ``compile`` pays minutes of compilation in the warm-up.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

PATHS = ("torch", "inference_mode", "channels_last", "bf16", "onnxruntime", "compile")


def build_paths(G, names: list[str], device: torch.device) -> dict:
    from translate.inference import build_backend

    paths = {}
    for name in names:
        if name == "inference_mode":
            def fn(x, G=G):
                with torch.inference_mode():
                    return G(x)
        else:
            backend = build_backend(G, name, device)

            def fn(x, backend=backend):
                with torch.no_grad():
                    return backend(x)
        paths[name] = fn
    return paths


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt", help="a checkpoint (default: an untrained G of the cut preset)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (no --ckpt)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--paths", default="torch,channels_last,bf16,onnxruntime", help=f"any of {', '.join(PATHS)}")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    torch.manual_seed(0)
    if args.ckpt:
        from translate.runfolder.translator import load_translator

        G = load_translator(args.ckpt, device=device).G
    else:
        from translate.config import load_config
        from translate.models.cut import build_generator

        G = build_generator(load_config("cut", args.set).model)
    G.eval()
    x = torch.rand(1, 3, args.size, args.size) * 2 - 1
    with torch.no_grad():
        reference = G(x)
    paths = build_paths(G, args.paths.split(","), device)
    times: dict[str, list[float]] = {name: [] for name in paths}
    diffs = {}
    for name, fn in paths.items():  # warm-up (compilation, ONNX Runtime's first-run allocations)
        diffs[name] = (fn(x).float() - reference).abs().max().item()
    for _ in range(args.rounds):
        for name, fn in paths.items():
            t0 = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - t0)
    base = statistics.median(times.get("torch") or next(iter(times.values())))
    print(f"G {'from ' + args.ckpt if args.ckpt else 'untrained'}, {args.size}x{args.size}, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds\n")
    print("| path | s (min) | s (median) | median vs torch | max abs diff vs fp32 |\n|---|---|---|---|---|")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"| {name} | {min(t):.4f} | {med:.4f} | {med / base:.2f}x | {diffs[name]:.1e} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
