"""The first GPU call in one command: what training and apply cost on one GPU (and on two, when present).

    python benchmarks/gpu_check.py --out gpu_check/          # on a GPU machine: at most --budget s (450)
    python benchmarks/gpu_check.py --tiny --out /tmp/gc      # the CPU form CI runs (tests/test_gpu_check.py)

Rows, in this order (the ones most likely to fail or run long come last):

- ``train``: ``Trainer.train_step`` of the cut preset (CUT, 256x256, ngf 64, 9 blocks, batch 1) on random
  images, per variant: ``fp32``, ``bf16`` (autocast), ``channels_last`` (fp32 NHWC), then ``compile`` and
  ``compile_bf16`` (``train.compile``). Steps/s and images/s from the median of the timed steps after the
  untimed warm-up ones (compilation happens there), peak memory (``torch.cuda.max_memory_allocated``; the
  process's peak resident set on CPU) and the last step's losses, so a variant that trains to NaN shows.
- ``loop``: the real loop (``next(loader)`` then the step) on the demo dataset rendered at 256 px with
  ``data.num_workers=4`` (1 in --tiny) at the default precision: whether data loading keeps up with the GPU.
- ``apply``: ``translate apply``'s tensor path (``translate_tensor``: pad, G, crop, copy back) through the
  ``auto`` and ``bf16`` backends at 256 and 1024 px, images/s and peak memory.
- ``torchrun``: with two or more GPUs, the fp32 step in 2 processes started by ``torchrun`` (global batch 2),
  global images/s against one process.

Every row runs in its own process under a time limit taken from what is left of ``--budget``, so a crash, an
out-of-memory or a compilation that runs long costs one failed row, not the call. ``--out`` receives
``gpu_check.json`` (every figure, the machine, torch and CUDA versions) and ``gpu_check.md`` (the table).
``--tiny`` is the same code on the smoke preset at 32 and 64 px, a few steps, on the CPU unless ``--device``
says otherwise, with ``torch.compile``'s ``eager`` backend (inductor takes minutes on a CPU): seconds.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

TRAIN_VARIANTS = {  # name -> config overrides on top of the preset
    "fp32": ["train.precision=fp32"],
    "bf16": ["train.precision=bf16"],
    "channels_last": ["train.precision=fp32", "train.channels_last=true"],
    "compile": ["train.precision=fp32", "train.compile=true"],
    "compile_bf16": ["train.precision=bf16", "train.compile=true"],
}
ROW_LIMITS = {"train": 90, "compile": 240, "loop": 90, "apply": 90, "torchrun": 150}  # seconds, at most
# (preset, train size, apply sizes, warm-up steps, timed steps, apply images, loop data size) per mode
MODES = {"full": ("cut", 256, (256, 1024), 5, 30, 10, 256), "tiny": ("smoke", 32, (32, 64), 1, 2, 2, 32)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _config(spec: dict, extra: list[str]):
    from translate.config import load_config

    size = spec["size"]
    return load_config(spec["preset"], ["dataset=demo", f"train.device={spec['device']}", "train.steps=100000",
                                        "train.decay_steps=0", f"data.synthetic.size={spec['data_size']}",
                                        "data.synthetic.n_train=16", "data.synthetic.n_test=4",
                                        f"data.load_size={size}", f"data.crop_size={size}", *extra])


def _compile_backend(name: str):
    """torch.compile with ``name`` as its default backend while the row runs (``eager`` in --tiny)."""
    original = torch.compile

    def patched(*args, **kwargs):
        kwargs.setdefault("backend", name)
        return original(*args, **kwargs)

    torch.compile = patched
    return original


def train_row(spec: dict) -> dict:
    """Steps/s of one variant (or of the real loop, ``spec['loop']``) in this process."""
    from translate.commands.train import build_trainer
    from translate.datasets.sources import resolve_source
    from translate.engine import distributed as dist

    info = dist.env_info()
    device = torch.device(spec["device"])
    if info.enabled:
        device = dist.local_device(device, info)
        dist.init_process_group("auto", device, info)
    extra = list(spec["overrides"]) + ([f"data.num_workers={spec['workers']}"] if spec.get("loop") else [])
    cfg = _config(spec, extra)
    original = _compile_backend(spec["compile_backend"]) if spec.get("compile_backend") else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = build_trainer(resolve_source(cfg), tmp, rank=info.rank, world_size=info.world_size)
            times, logs = _time_steps(trainer, spec)
    finally:
        if original is not None:
            torch.compile = original
        dist.destroy_process_group()
    per_step = statistics.median(times)
    images = cfg.data.batch_size * info.world_size
    return {"steps_per_s": round(1 / per_step, 3), "images_per_s": round(images / per_step, 3),
            "s_per_step": round(per_step, 5), "peak_mb": _peak_mb(trainer.device), "batch": cfg.data.batch_size,
            "processes": info.world_size, "dtype": str(trainer.dtype).removeprefix("torch."),
            "last_losses": {k: round(v, 4) for k, v in logs.items() if k.startswith(("G/", "D/"))},
            "finite": all(v == v and abs(v) != float("inf") for v in logs.values()), "rank": info.rank}


def _time_steps(trainer, spec: dict) -> tuple[list[float], dict]:
    """Warm-up, then timed steps: the real loader's batches for the loop row, one random batch otherwise."""
    size, b = trainer.cfg.data.crop_size, trainer.cfg.data.batch_size
    fixed = {"a": torch.rand(b, 3, size, size) * 2 - 1, "b": torch.rand(b, 3, size, size) * 2 - 1}
    batches = iter(trainer.loader) if spec.get("loop") else None
    if trainer.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times, logs = [], {}
    for i in range(spec["warmup"] + spec["steps"]):
        _sync(trainer.device)
        t0 = time.perf_counter()
        logs = trainer.train_step(next(batches) if batches is not None else fixed)
        trainer.step += 1
        _sync(trainer.device)
        if i >= spec["warmup"]:
            times.append(time.perf_counter() - t0)
    return times, logs


@torch.no_grad()
def apply_rows(spec: dict) -> list[dict]:
    """Images/s of translate_tensor through one backend at each size, on an untrained G of the preset."""
    from translate.apply import translate_tensor
    from translate.inference import build_backend, resolve_backend
    from translate.models.cut import build_generator

    device = torch.device(spec["device"])
    G = build_generator(_config(spec, []).model).to(device)
    net = build_backend(G, spec["backend"], device)
    rows = []
    for size in spec["sizes"]:
        x = torch.rand(1, 3, size, size) * 2 - 1
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        for _ in range(spec["warmup"]):
            translate_tensor(net, x, device)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(spec["images"]):
            translate_tensor(net, x, device)
        _sync(device)
        rows.append({"size": size, "images_per_s": round(spec["images"] / (time.perf_counter() - t0), 3),
                     "peak_mb": _peak_mb(device), "resolved": resolve_backend(spec["backend"], device)})
    return rows


def _child(kind: str, spec: dict):
    return apply_rows(spec) if kind == "apply" else train_row(spec)


def run_row(kind: str, spec: dict, limit: float, in_process: bool, nproc: int = 1) -> dict | list:
    """One row in a fresh process (``torchrun`` for nproc > 1) or, with ``in_process``, here."""
    if in_process and nproc == 1:
        try:
            return _child(kind, spec)
        except Exception as e:  # noqa: BLE001 - a failed row is a result
            return {"error": f"{type(e).__name__}: {e}"[:300]}
    launcher = [sys.executable] if nproc == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                    f"--nproc_per_node={nproc}"]
    cmd = [*launcher, str(Path(__file__).resolve()), "--child", json.dumps({"kind": kind, "spec": spec})]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")) if nproc > 1 else None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(limit, 1), env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"over its time limit of {limit:.0f} s"}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["?"]
        errors = [line for line in lines if "Error" in line]  # the exception line, not a trailing hint
        return {"error": (errors or lines)[-1].strip()[:300]}
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith(("{", "["))]
    ranked = [r for r in results if isinstance(r, dict) and r.get("rank", 0) == 0]
    return (ranked or results)[-1]


def plan(args) -> list[tuple[str, str, dict, int]]:
    """(kind, row name, spec, processes) in the order they run."""
    preset, size, apply_sizes, warmup, steps, images, data_size = MODES["tiny" if args.tiny else "full"]
    base = {"preset": preset, "size": size, "data_size": data_size, "device": args.device, "warmup": warmup,
            "steps": steps}
    eager = {"compile_backend": "eager"} if args.tiny else {}
    rows = [("train", v, {**base, "overrides": TRAIN_VARIANTS[v]}, 1) for v in ("fp32", "bf16", "channels_last")]
    rows += [("apply", backend, {**base, "backend": backend, "sizes": list(apply_sizes), "images": images,
                                 "warmup": 2}, 1) for backend in ("auto", "bf16")]
    workers = 1 if args.tiny else 4
    rows.append(("loop", f"workers {workers}", {**base, "overrides": [], "loop": True, "workers": workers}, 1))
    gpus = torch.cuda.device_count() if args.device.startswith("cuda") else 0
    nproc = args.torchrun or (2 if gpus >= 2 else 0)
    if nproc:
        rows.append(("torchrun", f"fp32 x{nproc}", {**base, "device": args.device.split(":")[0],
                                                    "overrides": TRAIN_VARIANTS["fp32"]}, nproc))
    rows += [("compile", v, {**base, "overrides": TRAIN_VARIANTS[v], **eager}, 1) for v in ("compile", "compile_bf16")]
    skip = set(args.skip.split(",")) - {""}
    return [r for r in rows if r[0] not in skip and r[1] not in skip]


def machine(device: str) -> dict:
    info = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device, "cpu_count": os.cpu_count()}
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(gpu=props.name, gpu_count=torch.cuda.device_count(), gpu_memory_mb=props.total_memory // 2**20)
    from translate.engine.device import cpu_bf16_units

    info["cpu_bf16_units"] = cpu_bf16_units()
    return info


def table(results: list[dict]) -> str:
    lines = ["| row | variant | processes | steps/s | images/s | peak MB | notes |", "|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['kind']} | {r['name']} | | | | | failed: {r['error']} |")
            continue
        if r["kind"] == "apply":
            lines.append(f"| apply {r['size']} px | {r['name']} ({r['resolved']}) | 1 | | {r['images_per_s']} | "
                         f"{r['peak_mb']} | |")
            continue
        note = "" if r["finite"] else "non-finite losses"
        lines.append(f"| {r['kind']} | {r['name']} ({r['dtype']}) | {r['processes']} | {r['steps_per_s']} | "
                     f"{r['images_per_s']} | {r['peak_mb']} | {note} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="gpu_check", help="folder for gpu_check.json and gpu_check.md")
    p.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    p.add_argument("--tiny", action="store_true", help="smoke preset, 32/64 px, a few steps: the CI form")
    p.add_argument("--budget", type=float, default=450, help="seconds for all rows together")
    p.add_argument("--skip", default="", help="kinds or variants to leave out, e.g. compile,torchrun")
    p.add_argument("--torchrun", type=int, default=0, help="processes for the torchrun row (default: 2 with 2+ GPUs)")
    p.add_argument("--in-process", action="store_true", help="run single-process rows here (tests)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        job = json.loads(args.child)
        # One write per line: torchrun's ranks share this pipe, and print() may write the text and its newline
        # apart, so another rank's line could land between them (seen once: two results on one line). A single
        # os.write of under PIPE_BUF bytes is atomic.
        line = (json.dumps(_child(job["kind"], job["spec"])) + "\n").encode()
        sys.stdout.flush()
        os.write(sys.stdout.fileno(), line)
        return 0
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    os.environ.setdefault("TRANSLATE_DATA", os.path.join(tempfile.gettempdir(), "translate-bench-data"))
    deadline = time.monotonic() + args.budget
    results = []
    for kind, name, spec, nproc in plan(args):
        left = deadline - time.monotonic()
        if left < 5:
            results.append({"kind": kind, "name": name, "error": "skipped: --budget spent"})
            continue
        t0 = time.monotonic()
        got = run_row(kind, spec, min(ROW_LIMITS[kind], left), args.in_process, nproc)
        rows = got if isinstance(got, list) else [got]
        results += [{"kind": kind, "name": name, "wall_s": round(time.monotonic() - t0, 1), **r} for r in rows]
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    from translate.atomic import write_text

    report = {"machine": machine(args.device), "command": " ".join(sys.argv), "tiny": args.tiny, "rows": results}
    m = report["machine"]
    where = f"{m['gpu_count']} x {m['gpu']}" if "gpu" in m else f"CPU ({m['cpu_count']} cores)"
    md = (f"{where}; torch {m['torch']}, CUDA {m['cuda']}; {'--tiny; ' if args.tiny else ''}"
          f"command: `{report['command']}`\n\n{table(results)}\n")
    out = Path(args.out)
    write_text(json.dumps(report, indent=2), out / "gpu_check.json")
    write_text(md, out / "gpu_check.md")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
