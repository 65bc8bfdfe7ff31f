"""Side by side with the CUT reference code: training wall time and apply throughput, as ratios.

    python benchmarks/vs_reference.py --reference-repo ~/src/contrastive-unpaired-translation
    python benchmarks/vs_reference.py --reference-repo REPO --pairs 3 --variant bf16=train.precision=bf16

You supply a checkout of taesungp/contrastive-unpaired-translation; nothing of it is copied or imported into
this package. ``--reference-python`` is the interpreter to run it with (default: this one; it needs
``dominate`` and ``packaging`` besides torch).

Training: both trainers run as whole processes (start-up, data loading, training, their final checkpoint)
at the same config: the demo dataset rendered at ``--size`` (default 64) into trainA/trainB, a ResNet G with
ngf 32 and 6 blocks, batch 1, ``--steps`` steps (300), no LR decay, default threads. Each pair runs the two
in turn, the order alternating from pair to pair, so a change in the machine's load falls on both alike;
the ratio is ours / reference per pair, reported as median and range. ``--variant NAME=KEY=VALUE[,KEY=VALUE]``
adds our trainer with extra overrides (e.g. bf16) to every pair.

Apply: the reference's ``test.py`` cannot load the checkpoints it writes on CPU (their keys may carry
``module.``), so a small driver run with the reference's interpreter loads its G itself from
``latest_net_G.pth`` and does what ``test.py`` does per image, minus its extra outputs (real_A and real_B
copies, the HTML page): load, transform (``--preprocess none``), G under ``no_grad``, convert, save a PNG.
Ours runs ``translate apply``'s own path (``apply_paths`` with the default backend) on the checkpoint our
trainer wrote. Both drivers translate the same ``--apply-images`` images per size (256 and 1024 px) after
one warm-up image; the figure is images per second without process start-up, alternating as above.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_REF_APPLY = r'''
import argparse, importlib, json, sys, time
from pathlib import Path
import torch
from PIL import Image
sys.path.insert(0, ".")  # the reference checkout (the working directory): its own models/, data/, util/
networks = importlib.import_module("models.networks")
get_transform = importlib.import_module("data.base_dataset").get_transform
util = importlib.import_module("util.util")
ckpt, folder, out, ngf, netG, threads = sys.argv[1:7]
if int(threads) > 0:
    torch.set_num_threads(int(threads))
G = networks.define_G(3, 3, int(ngf), netG, "instance", False, "xavier", 0.02, False, False, [], None)
state = torch.load(ckpt, map_location="cpu", weights_only=True)
G.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
opt = argparse.Namespace(preprocess="none", no_flip=True, load_size=0, crop_size=0, dataroot=folder)
transform = get_transform(opt)
files = sorted(Path(folder).glob("*.png"))
def one(path):
    x = transform(Image.open(path).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        y = G(x)
    util.save_image(util.tensor2im(y), str(Path(out) / path.name))
one(files[0])
t0 = time.perf_counter()
for f in files:
    one(f)
print(json.dumps({"img_per_s": len(files) / (time.perf_counter() - t0)}))
'''

_OUR_APPLY = r'''
import json, sys, time
import torch
from translate.apply import apply_paths
from translate.runfolder.translator import load_translator
from translate.inference import build_backend
ckpt, folder, out, threads, backend = sys.argv[1:6]
if int(threads) > 0:
    torch.set_num_threads(int(threads))
device = torch.device("cpu")
t = load_translator(ckpt, device=device)
G, cfg = t.G, t.cfg
G = build_backend(G, backend, device)
files = sorted(__import__("pathlib").Path(folder).glob("*.png"))
apply_paths(G, [str(files[0])], out + "/warmup", device)
t0 = time.perf_counter()
apply_paths(G, [folder], out, device)
print(json.dumps({"img_per_s": len(files) / (time.perf_counter() - t0)}))
'''


def make_dataset(root: Path, size: int, n: int) -> Path:
    """The demo dataset at ``size`` px, ``n`` images per domain, written once under ``root``."""
    from translate.config import SyntheticConfig
    from translate.datasets.synthetic import ensure_synthetic

    return ensure_synthetic(SyntheticConfig(size=size, n_train=n, n_test=4), root)


def make_apply_images(src: Path, size: int, n: int, dest: Path) -> Path:
    """``n`` test images enlarged to ``size`` px (the content does not matter for speed)."""
    from PIL import Image

    dest.mkdir(parents=True, exist_ok=True)
    files = sorted((src / "testA").glob("*.png"))
    for i in range(n):
        Image.open(files[i % len(files)]).convert("RGB").resize((size, size), Image.BICUBIC).save(dest / f"{i}.png")
    return dest


def reference_train_cmd(args, data: Path, work: Path, name: str) -> list[str]:
    return [args.reference_python, "train.py", "--dataroot", str(data), "--name", name,
            "--checkpoints_dir", str(work / "ref_ckpt"), "--netG", f"resnet_{args.blocks}blocks",
            "--ngf", str(args.ngf), "--load_size", str(args.size), "--crop_size", str(args.size),
            "--n_epochs", "1", "--n_epochs_decay", "0", "--max_dataset_size", str(args.steps),
            "--gpu_ids", "-1", "--display_id", "0",
            "--save_epoch_freq", "1"]  # its default (5) would save nothing in a 1-epoch run; ours saves at the end


def our_train_cmd(args, data: Path, out: Path, extra: list[str]) -> list[str]:
    sets = [f"model.ngf={args.ngf}", f"model.n_blocks={args.blocks}", f"data.load_size={args.size}",
            f"data.crop_size={args.size}", f"train.steps={args.steps}", "train.decay_steps=0", *extra]
    return [sys.executable, "-m", "translate", "train", str(data), "--config", "cut", "--out", str(out),
            *[a for s in sets for a in ("--set", s)]]


def child_env(threads: int) -> dict[str, str]:
    """The environment of both trainers: the same OpenMP/MKL thread count when ``threads`` > 0."""
    env = dict(os.environ)
    if threads > 0:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return env


def timed(cmd: list[str], cwd: Path | None, log: Path, threads: int = 0) -> float:
    """Wall seconds of one whole process; its output goes to ``log``; a failure stops the benchmark."""
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, env=child_env(threads))
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:4])}... failed (exit {proc.returncode}); see {log}")
    return seconds


def json_line(cmd: list[str], cwd: Path | None, log: Path) -> dict:
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=fh, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd[:3])}... failed (exit {proc.returncode}); see {log}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def bench_train(args, data: Path, work: Path, variants: dict[str, list[str]]) -> dict[str, list[float]]:
    """Wall seconds per trainer and pair; the order of the trainers rotates from pair to pair."""
    walls: dict[str, list[float]] = {"reference": [], **{name: [] for name in variants}}
    names = list(walls)
    for pair in range(args.pairs):
        order = names[pair % len(names):] + names[:pair % len(names)]
        for name in order:
            log = work / f"train_{name}_{pair}.log"
            if name == "reference":
                cmd, cwd = reference_train_cmd(args, data, work, f"ref{pair}"), Path(args.reference_repo)
            else:
                cmd, cwd = our_train_cmd(args, data, work / f"run_{name}_{pair}", variants[name]), None
            walls[name].append(timed(cmd, cwd, log, args.train_threads))
            print(f"pair {pair}: {name} {walls[name][-1]:.1f} s", file=sys.stderr, flush=True)
    return walls


def bench_apply(args, data: Path, work: Path) -> dict[int, dict[str, list[float]]]:
    """Images per second of both drivers per size, alternating."""
    ref_driver, our_driver = work / "ref_apply.py", work / "our_apply.py"
    ref_driver.write_text(_REF_APPLY)
    our_driver.write_text(_OUR_APPLY)
    ref_ckpt = work / "ref_ckpt" / "ref0" / "latest_net_G.pth"
    our_ckpt = work / "run_ours_0" / "ckpt" / "latest.pt"
    rates: dict[int, dict[str, list[float]]] = {}
    for size in [int(s) for s in args.apply_sizes.split(",")]:
        folder = make_apply_images(data, size, args.apply_images, work / f"apply_in_{size}")
        rates[size] = {"reference": [], "ours": []}
        for rep in range(args.apply_pairs):
            for name in (("reference", "ours") if rep % 2 == 0 else ("ours", "reference")):
                out = work / f"apply_out_{name}_{size}_{rep}"
                out.mkdir(parents=True, exist_ok=True)
                log = work / f"apply_{name}_{size}_{rep}.log"
                if name == "reference":
                    cmd = [args.reference_python, str(ref_driver), str(ref_ckpt), str(folder), str(out),
                           str(args.ngf), f"resnet_{args.blocks}blocks", str(args.threads)]
                    row = json_line(cmd, Path(args.reference_repo), log)
                else:
                    cmd = [sys.executable, str(our_driver), str(our_ckpt), str(folder), str(out), str(args.threads),
                           args.backend]
                    row = json_line(cmd, None, log)
                rates[size][name].append(row["img_per_s"])
                print(f"apply {size}px rep {rep}: {name} {row['img_per_s']:.3f} img/s", file=sys.stderr, flush=True)
    return rates


def machine() -> str:
    flags, model = set(), "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    have = [f for f in ("avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return f"{model}, {os.cpu_count()} cores, flags: {' '.join(have) or 'no bf16 units'}"


def report(walls: dict[str, list[float]], rates: dict, args) -> str:
    lines = [f"machine: {machine()}; load average at the end: {os.getloadavg()[0]:.1f}", "",
             f"training: {args.steps} steps at {args.size}x{args.size}, ngf {args.ngf}, {args.blocks} blocks, "
             f"batch 1, {args.pairs} pairs, threads {args.train_threads or 'default'}", "",
             "| trainer | wall s, median (range) | ratio to the reference, median (range) |", "|---|---|---|"]
    ref = walls.get("reference", [])
    for name, values in walls.items():
        if not values:
            continue
        ratio = "1" if name == "reference" else spread([v / r for v, r in zip(values, ref)])
        lines.append(f"| {name} | {spread(values)} | {ratio} |")
    if rates:
        lines += ["", f"apply: {args.apply_images} images per size after one warm-up, backend {args.backend}", "",
                  "| size | reference img/s | ours img/s | ours / reference, median (range) |", "|---|---|---|---|"]
        for size, r in rates.items():
            ratios = [o / x for o, x in zip(r["ours"], r["reference"])]
            lines.append(f"| {size} | {spread(r['reference'])} | {spread(r['ours'])} | {spread(ratios)} |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference-repo", required=True, help="checkout of taesungp/contrastive-unpaired-translation")
    p.add_argument("--reference-python", default=sys.executable, help="interpreter for the reference code")
    p.add_argument("--pairs", type=int, default=3, help="alternating training runs per trainer")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--blocks", type=int, default=6, choices=(6, 9))
    p.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE[,KEY=VALUE]",
                   help="also time our trainer with these overrides (repeatable)")
    p.add_argument("--apply-sizes", default="256,1024")
    p.add_argument("--apply-images", type=int, default=4)
    p.add_argument("--apply-pairs", type=int, default=3)
    p.add_argument("--backend", default="auto", help="our apply backend (translate/inference.py)")
    p.add_argument("--threads", type=int, default=0, help="torch threads for apply (0 = default)")
    p.add_argument("--train-threads", type=int, default=0,
                   help="OMP_NUM_THREADS for both trainers (0 = their default; 1 on a heavily shared machine, where "
                        "spinning OpenMP threads of a descheduled process slow it many times over)")
    p.add_argument("--skip", default="", help="train or apply, to leave one out (apply needs the checkpoints)")
    p.add_argument("--work", help="folder for data, runs and logs (default: a new temporary one, removed after)")
    p.add_argument("--json", help="also write the raw figures here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not (Path(args.reference_repo) / "train.py").is_file():
        sys.exit(f"error: --reference-repo {args.reference_repo}: no train.py there; give a checkout of the "
                 "CUT repository (taesungp/contrastive-unpaired-translation)")
    variants = {"ours": []}
    for spec in args.variant:
        name, _, sets = spec.partition("=")
        if not name or not sets:
            sys.exit(f"error: --variant {spec!r}: expected NAME=KEY=VALUE[,KEY=VALUE]")
        variants[name] = sets.split(",")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="vs_reference_"))
    work.mkdir(parents=True, exist_ok=True)
    data = make_dataset(work / "data", args.size, args.steps)
    walls = {} if "train" in args.skip else bench_train(args, data, work, variants)
    rates = {} if "apply" in args.skip else bench_apply(args, data, work)
    print(report(walls, rates, args))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "train": walls,
                                               "apply": {str(k): v for k, v in rates.items()},
                                               "command": " ".join(sys.argv)}, indent=2))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
