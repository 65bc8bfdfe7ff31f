"""Seconds per training step and images per second for apply, per preset and precision.

    python benchmarks/step_time.py --presets cut,demo --precisions fp32,bf16 --steps 3
    python benchmarks/step_time.py --json bench.json

``--reference-design`` also times the CUT reference's design, which runs G's encoder a second time on the
real images to get the NCE keys; our trainer reuses the activations of G's own forward pass instead.
Each configuration trains on random images through the real Trainer.train_step.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

import torch

from translate.config import load_config
from translate.engine.trainer import Trainer
from translate.models.cut import CUTModel, StepOutputs


def reference_forward(self: CUTModel, batch: dict) -> StepOutputs:
    """The reference's data flow: G forward without features, then a second encoder pass for the NCE keys
    (built with autograd on, as the reference does inside its NCE loss, and detached in the loss)."""
    real_a, real_b = batch["a"], batch["b"]
    use_idt = self.nce_idt and self.lambda_nce > 0
    real = torch.cat([real_a, real_b]) if use_idt else real_a
    fake = self.G(real)
    feats = [f.detach() for f in self.G.encode(real, self.nce_layers)]
    n = real_a.shape[0]
    return StepOutputs(real_a=real_a, real_b=real_b, fake_b=fake[:n], idt_b=fake[n:] if use_idt else None,
                       feat_k=[f[:n] for f in feats], feat_k_idt=[f[n:] for f in feats] if use_idt else [])


def time_train(preset: str, precision: str, steps: int, warmup: int, reference: bool, device: str) -> float:
    cfg = load_config(preset, ["dataset=demo", f"train.precision={precision}", f"train.device={device}",
                               "train.steps=1000", "data.synthetic.n_train=8", "data.synthetic.n_test=4"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp)
    model = trainer.networks
    if reference:
        model.forward = reference_forward.__get__(model)
    size, b = cfg.data.crop_size, cfg.data.batch_size
    batch = {"a": torch.rand(b, 3, size, size) * 2 - 1, "b": torch.rand(b, 3, size, size) * 2 - 1}
    for _ in range(warmup):
        trainer.train_step(batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch)
    _sync(trainer.device)
    return (time.perf_counter() - t0) / steps


@torch.no_grad()
def time_apply(preset: str, steps: int, device: str) -> float:
    from translate.models.cut import build_generator

    cfg = load_config(preset)
    G = build_generator(cfg.model).to(device).eval()
    x = torch.rand(1, 3, cfg.data.crop_size, cfg.data.crop_size, device=device) * 2 - 1
    G(x)
    t0 = time.perf_counter()
    for _ in range(steps):
        G(x)
    _sync(torch.device(device))
    return steps / (time.perf_counter() - t0)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="cut,demo")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference-design", action="store_true", help="also time the reference's second encoder pass")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    os.environ.setdefault("TRANSLATE_DATA", tempfile.mkdtemp(prefix="bench-data-"))
    rows = []
    for preset in args.presets.split(","):
        for precision in args.precisions.split(","):
            designs = [False, True] if args.reference_design and precision == "fp32" else [False]
            for reference in designs:
                sec = time_train(preset, precision, args.steps, args.warmup, reference, args.device)
                rows.append({"preset": preset, "precision": precision,
                             "design": "reference (2nd encoder pass)" if reference else "translate",
                             "s_per_step": round(sec, 4)})
                print(f"{preset:8s} {precision:5s} {rows[-1]['design']:30s} {sec:8.3f} s/step", file=sys.stderr)
        ips = time_apply(preset, args.steps, args.device)
        rows.append({"preset": preset, "precision": "fp32", "design": "apply", "img_per_s": round(ips, 3)})
        print(f"{preset:8s} apply {ips:8.2f} img/s", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("\n| preset | precision | design | s/step | apply img/s |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['precision']} | {r['design']} | {r.get('s_per_step', '')} | "
              f"{r.get('img_per_s', '')} |")
    print(f"\ndevice {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"peak RSS {peak_mb:.0f} MB")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": args.device, "torch": torch.__version__, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
