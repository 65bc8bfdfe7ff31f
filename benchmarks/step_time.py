"""Seconds per training step and peak memory, per preset and variant (fp32, bf16, channels_last, compile).

    python benchmarks/step_time.py                                   # cut, fastcut and demo; all variants
    python benchmarks/step_time.py --presets demo --variants fp32,compile --json bench.json
    python benchmarks/step_time.py --reference-design                # also time the reference's data flow

Each (preset, variant) runs in a fresh process, so peak memory is its own and no compiled code is shared.
A configuration trains on random images through the real ``Trainer.train_step``: ``--warmup`` untimed steps
(the first includes compilation for ``compile``), then ``--steps`` timed ones, reported as the fastest
(least disturbed by other jobs on a shared machine) and the mean. Peak memory is the process's
peak resident set on CPU (``peak MB``) and its growth over the trainer's idle footprint (``step MB``), or
``torch.cuda.max_memory_allocated`` on CUDA.

``--reference-design`` adds a ``reference`` variant: the CUT reference's data flow, which runs G's encoder a
second time on the real images to get the NCE keys; our trainer reuses the activations of G's own forward.
Its steps alternate with steps of our design in the same process (fp32), and the row compares the two.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import torch

VARIANTS = ("fp32", "bf16", "channels_last", "compile")
_OVERRIDES = {  # the config of each variant; everything else is the preset's
    "fp32": ["train.precision=fp32"],
    "bf16": ["train.precision=bf16"],
    "channels_last": ["train.precision=fp32", "train.channels_last=true"],
    "compile": ["train.precision=fp32", "train.compile=true"],
    "reference": ["train.precision=fp32"],
}


def reference_forward(self, batch: dict):
    """The reference's data flow: G forward without features, then a second encoder pass for the NCE keys
    (built with autograd on, as the reference does inside its NCE loss, and detached in the loss)."""
    from translate.models.cut import StepOutputs

    real_a, real_b = batch["a"], batch["b"]
    use_idt = self.nce_idt and self.lambda_nce > 0
    real = torch.cat([real_a, real_b]) if use_idt else real_a
    fake = self.G(real)
    feats = [f.detach() for f in self.G.encode(real, self.nce_layers)]
    n = real_a.shape[0]
    return StepOutputs(real_a=real_a, real_b=real_b, fake_b=fake[:n], idt_b=fake[n:] if use_idt else None,
                       feat_k=[f[:n] for f in feats], feat_k_idt=[f[n:] for f in feats] if use_idt else [])


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(preset: str, variant: str, steps: int, warmup: int, device: str, threads: int = 0) -> dict:
    """One configuration, in this process: seconds per step and memory."""
    from translate.config import load_config
    from translate.datasets.sources import resolve_source
    from translate.engine.run import build_run
    from translate.engine.trainer import Trainer

    cfg = load_config(preset, ["dataset=demo", f"train.device={device}", "train.steps=1000",
                               "data.synthetic.n_train=8", "data.synthetic.n_test=4", f"train.threads={threads}",
                               *_OVERRIDES[variant]])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(build_run(resolve_source(cfg), tmp))
    ours, reference = trainer.networks.forward, reference_forward.__get__(trainer.networks)
    size, b = cfg.data.crop_size, cfg.data.batch_size
    batch = {"a": torch.rand(b, 3, size, size) * 2 - 1, "b": torch.rand(b, 3, size, size) * 2 - 1}
    idle_mb = _rss_mb()
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step(batch)
    _sync(trainer.device)
    t1 = time.perf_counter()
    times, ours_times = [], []
    for _ in range(steps):
        if variant == "reference":  # interleaved with our design, so both see the same machine load
            trainer.networks.forward = ours
            ours_times.append(_timed_step(trainer, batch))
            trainer.networks.forward = reference
        times.append(_timed_step(trainer, batch))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"preset": preset, "variant": variant, "batch": b, "size": size, "s_per_step": round(min(times), 4),
           "mean_s": round(sum(times) / steps, 4), "threads": torch.get_num_threads(),
           "warmup_s": round(t1 - t0, 2), "peak_mb": round(peak_mb), "step_mb": round(peak_mb - idle_mb)}
    if ours_times:
        row["ours_s"] = round(min(ours_times), 4)
    if trainer.device.type == "cuda":
        row["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    return row


def _timed_step(trainer, batch: dict) -> float:
    t = time.perf_counter()
    trainer.train_step(batch)
    _sync(trainer.device)
    return time.perf_counter() - t


def _run_child(preset: str, variant: str, args) -> dict:
    spec = json.dumps({"preset": preset, "variant": variant, "steps": args.steps, "warmup": args.warmup,
                       "device": args.device, "threads": args.threads})
    proc = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["?"]
        errors = [line for line in lines if "Error" in line]  # the exception line, not the last hint
        return {"preset": preset, "variant": variant, "error": (errors or lines)[-1].strip()[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    lines = ["| preset | batch x size | variant | s/step (min) | s/step (mean) | vs fp32 | warm-up s | peak MB "
             "| step MB |", "|---|---|---|---|---|---|---|---|---|"]
    base = {r["preset"]: r["s_per_step"] for r in rows if r.get("variant") == "fp32" and "s_per_step" in r}
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['preset']} | | {r['variant']} | failed: {r['error']} | | | | | |")
            continue
        ratio = f"{r['s_per_step'] / base[r['preset']]:.2f}x" if r["preset"] in base else ""
        if "ours_s" in r:  # the reference against our design, timed in the same process, alternating
            ratio = f"{r['s_per_step'] / r['ours_s']:.2f}x of ours ({r['ours_s']:.3f})"
        mem = r.get("cuda_peak_mb", r["peak_mb"])
        lines.append(f"| {r['preset']} | {r['batch']} x {r['size']} | {r['variant']} | {r['s_per_step']:.3f} | "
                     f"{r['mean_s']:.3f} | {ratio} | {r['warmup_s']:.1f} | {mem} | {r['step_mb']} |")
    return "\n".join(lines)


def _machine(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default="cut,fastcut,demo")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"any of {', '.join(VARIANTS)}")
    p.add_argument("--compile-presets", default="all",
                   help="presets that run the compile variant ('all', or a list: compiling takes minutes on CPU)")
    p.add_argument("--reference-design", action="store_true", help="also time the reference's second encoder pass")
    p.add_argument("--steps", type=int, default=2, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (compilation happens here)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0 = the preset's train.threads)")
    p.add_argument("--json", help="also write the results to this file")
    p.add_argument("--apply", action="store_true", help="time apply (images/s, batch 1) per preset instead")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("TRANSLATE_DATA", os.path.join(tempfile.gettempdir(), "translate-bench-data"))
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(measure(**spec)))
        return 0
    variants = [v for v in args.variants.split(",") if v] + (["reference"] if args.reference_design else [])
    unknown = sorted(set(variants) - set(_OVERRIDES))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    compile_ok = args.compile_presets.split(",")
    rows = []
    if args.apply:
        rows = [apply_rate(preset, max(args.steps, 3), args.device, args.threads) for preset in args.presets.split(",")]
        print("| preset | size | apply img/s |\n|---|---|---|")
        print("\n".join(f"| {r['preset']} | {r['size']} | {r['img_per_s']} |" for r in rows))
        return 0
    for preset in args.presets.split(","):
        for variant in variants:
            if variant == "compile" and "all" not in compile_ok and preset not in compile_ok:
                continue
            rows.append(_run_child(preset, variant, args))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    threads = sorted({r["threads"] for r in rows if "threads" in r})
    header = (f"{_machine(args.device)}; torch {torch.__version__}; torch threads {threads}; {args.warmup} "
              f"warm-up + {args.steps} timed steps per row; s/step (min) is the fastest timed step")
    print(f"{header}\n\n{_table(rows)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": _machine(args.device), "device": args.device, "torch": torch.__version__,
                       "command": " ".join(sys.argv), "rows": rows}, fh, indent=2)
    return 0


@torch.no_grad()
def apply_rate(preset: str, steps: int, device: str, threads: int) -> dict:
    """Images per second of ``translate apply``'s path (translate_tensor: pad, G, crop) at the preset's size."""
    from translate.apply import translate_tensor
    from translate.config import load_config
    from translate.models.cut import build_generator

    if threads > 0:
        torch.set_num_threads(threads)
    cfg = load_config(preset)
    dev = torch.device(device)
    G = build_generator(cfg.model).to(dev).eval()
    x = torch.rand(1, 3, cfg.data.crop_size, cfg.data.crop_size) * 2 - 1
    translate_tensor(G, x, dev)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        translate_tensor(G, x, dev)
    _sync(dev)
    return {"preset": preset, "size": cfg.data.crop_size, "img_per_s": round(steps / (time.perf_counter() - t0), 3)}


if __name__ == "__main__":
    sys.exit(main())
