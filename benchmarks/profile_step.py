"""Where a training step and an apply batch spend their time: ``torch.profiler`` tables per size.

    python benchmarks/profile.py                        # train and apply at 64 and 256 px
    python benchmarks/profile.py --what train --sizes 64 --steps 5 --threads 2 --out prof/

Training runs the real loop (``next(loader)``, ``Trainer.train_step``, the hooks) on the demo dataset
rendered at the profiled size, with the cut preset at the issue-13 benchmark sizes (ngf 32, 6 blocks,
batch 1); each part is labelled with ``record_function``, so the table shows the host's time in data loading,
in the step and in the hooks, next to the top operators. ``aten::item``/``aten::_local_scalar_dense`` rows
are the per-step ``float()`` of each loss (on CUDA each one waits for the GPU). Apply profiles
``translate_tensor`` on one image through the checkpoint's G. Prints a Markdown table per run and, with
``--out``, writes each run's Chrome trace there. ``--what adam`` times Adam's per-parameter loop against the
fused kernel on G+F instead, interleaved.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

_LABELS = ("data", "train_step", "hooks")


def _train_config(size: int, device: str, threads: int, extra: list[str]):
    from translate.config import load_config

    return load_config("cut", ["dataset=demo", f"data.synthetic.size={size}", "data.synthetic.n_train=32",
                               "data.synthetic.n_test=4", f"data.load_size={size}", f"data.crop_size={size}",
                               "model.ngf=32", "model.n_blocks=6", "train.steps=1000", "train.decay_steps=0",
                               "train.sample_every=0", "train.ckpt_every=0", "train.eval_every=0",
                               f"train.device={device}", f"train.threads={threads}", *extra])


def profile_train(size: int, steps: int, warmup: int, device: str, threads: int, extra: list[str]):
    """The real step loop for ``warmup`` + ``steps`` steps; the last ``steps`` are profiled."""
    from translate.datasets.sources import resolve_source
    from translate.engine.run import build_run
    from translate.engine.trainer import Trainer

    cfg = _train_config(size, device, threads, extra)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build_run(resolve_source(cfg), tmp))
        batches = iter(trainer.loader)

        def one_step():
            with record_function("data"):
                batch = next(batches)
            with record_function("train_step"):
                logs = trainer.train_step(batch)
            trainer.step += 1
            with record_function("hooks"):
                trainer.emit("after_step", logs)

        for _ in range(warmup):
            one_step()
        with _profiler(device) as prof:
            for _ in range(steps):
                one_step()
    return prof


def profile_apply(size: int, steps: int, warmup: int, device: str, threads: int, extra: list[str]):
    """``translate_tensor`` on one (1, 3, size, size) image through G of the same config, under the
    inference backend that apply uses by default."""
    from translate.apply import translate_tensor
    from translate.models.cut import build_generator

    if threads > 0:
        torch.set_num_threads(threads)
    cfg = _train_config(size, device, threads, extra)
    dev = torch.device(device)
    G = build_generator(cfg.model).to(dev).eval()
    x = torch.rand(1, 3, size, size) * 2 - 1
    for _ in range(warmup):
        translate_tensor(G, x, dev)
    with _profiler(device) as prof:
        for _ in range(steps):
            with record_function("apply_batch"):
                translate_tensor(G, x, dev)
    return prof


def time_adam(size: int, rounds: int, device: str, threads: int, extra: list[str]) -> str:
    """Adam's loop (torch's CPU default) against the fused kernel on G+F, interleaved; not a profile."""
    import time

    from translate.models.cut import build_model

    if threads > 0:
        torch.set_num_threads(threads)
    model = build_model(_train_config(size, device, threads, extra).model).to(device)
    params = model.phase_parameters("G")
    kinds = {"loop": {"foreach": False}, "fused": {"fused": True}}
    copies = {k: [p.detach().clone().requires_grad_() for p in params] for k in kinds}
    opts = {k: torch.optim.Adam(copies[k], lr=2e-4, betas=(0.5, 0.999), **kw) for k, kw in kinds.items()}
    grads = [torch.randn_like(p) * 1e-3 for p in params]  # the same gradients for both
    for k in kinds:
        for c, g in zip(copies[k], grads):
            c.grad = g.clone()
    times = {k: [] for k in kinds}
    for _ in range(rounds + 3):
        for k, opt in opts.items():
            t0 = time.perf_counter()
            opt.step()
            times[k].append(time.perf_counter() - t0)
    diff = max((a - b).abs().max().item() for a, b in zip(copies["loop"], copies["fused"]))
    rows = [f"| {k} | {1e3 * min(t[3:]):.1f} | {1e3 * sorted(t[3:])[len(t[3:]) // 2]:.1f} |" for k, t in times.items()]
    return "\n".join([f"Adam on G+F ({sum(p.numel() for p in params) / 1e6:.1f} M parameters), {rounds} rounds, "
                      f"weights differ by {diff:.1e} at the end", "", "| Adam | ms (min) | ms (median) |",
                      "|---|---|---|", *rows])


def _profiler(device: str):
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    return profile(activities=activities, record_shapes=False)


def summary(prof, steps: int, top: int) -> str:
    """Markdown: the labelled parts per step, then the ``top`` operators by self time."""
    events = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in events)
    lines = ["| part | ms per step | share |", "|---|---|---|"]
    for e in events:
        if e.key in _LABELS + ("apply_batch",):
            lines.append(f"| {e.key} | {e.cpu_time_total / steps / 1e3:.1f} | "
                         f"{100 * e.cpu_time_total / max(total_us, 1):.1f} % |")
    syncs = [e for e in events if e.key in ("aten::item", "aten::_local_scalar_dense")]
    calls = max((e.count for e in syncs), default=0)
    lines += ["", f"host syncs (aten::item): {calls / steps:.1f} per step, "
              f"{sum(e.self_cpu_time_total for e in syncs) / steps / 1e3:.2f} ms per step", "",
              "| operator | self ms per step | share | calls per step |", "|---|---|---|---|"]
    ops = sorted((e for e in events if e.key not in _LABELS + ("apply_batch",)),
                 key=lambda e: e.self_cpu_time_total, reverse=True)
    for e in itertools.islice(ops, top):
        lines.append(f"| {e.key} | {e.self_cpu_time_total / steps / 1e3:.2f} | "
                     f"{100 * e.self_cpu_time_total / max(total_us, 1):.1f} % | {e.count / steps:.0f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", default="train,apply", help="train, apply (profiles) and/or adam (loop vs fused)")
    p.add_argument("--sizes", default="64,256", help="image sides in pixels")
    p.add_argument("--steps", type=int, default=5, help="profiled steps (or apply batches)")
    p.add_argument("--warmup", type=int, default=2, help="unprofiled steps first")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    p.add_argument("--top", type=int, default=15, help="operators listed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    p.add_argument("--out", help="folder for Chrome traces (one per run)")
    args = p.parse_args()
    os.environ.setdefault("TRANSLATE_DATA", os.path.join(tempfile.gettempdir(), "translate-bench-data"))
    runs = {"train": profile_train, "apply": profile_apply}
    for what, size in itertools.product(args.what.split(","), [int(s) for s in args.sizes.split(",")]):
        if what == "adam":
            print(time_adam(size, max(args.steps, 10), args.device, args.threads, args.set), flush=True)
            continue
        prof = runs[what](size, args.steps, args.warmup, args.device, args.threads, args.set)
        print(f"\n### {what} at {size}x{size} ({args.device}, {torch.get_num_threads()} threads, "
              f"{args.steps} profiled after {args.warmup} warm-up)\n\n{summary(prof, args.steps, args.top)}",
              flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            prof.export_chrome_trace(str(Path(args.out) / f"{what}_{size}.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
