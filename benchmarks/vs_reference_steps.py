"""Training step time against the CUT reference code, in one process, steps alternating: a load-robust ratio.

    python benchmarks/vs_reference_steps.py --reference-repo ~/src/contrastive-unpaired-translation --steps 30
    python benchmarks/vs_reference_steps.py --reference-repo REPO --profile 5     # torch.profiler tables of both

``benchmarks/vs_reference.py`` times both trainers as whole processes, which on a shared machine takes long
and mixes the load of minutes apart into the ratio. Here one process builds the reference's CUT model (its
``TrainOptions`` and ``create_model``, imported from the checkout you supply: nothing is copied into this
package) and our ``Trainer`` at the same config (64x64, ngf 32, 6 blocks, batch 1, the cut preset's losses)
and times the reference's ``optimize_parameters`` and our ``train_step`` on the same random batch, one after
the other, the order swapped every step, after ``--warmup`` untimed steps of each. It reports both medians
and the median of the per-step ratios (ours / reference). Start-up and data loading are left out (measured
alike for both by vs_reference.py). ``--threads`` sets torch's threads for both (default 1).
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time

import torch


def reference_model(repo: str, size: int, ngf: int, blocks: int, batch: dict):
    """The reference's CUTModel at our benchmark config, set up as its train.py does on the first batch."""
    cwd = os.getcwd()
    sys.path.insert(0, repo)
    argv, sys.argv = sys.argv, ["train.py", "--dataroot", "unused", "--name", "steps", "--checkpoints_dir",
                                tempfile.mkdtemp(), "--netG", f"resnet_{blocks}blocks", "--ngf", str(ngf),
                                "--load_size", str(size), "--crop_size", str(size), "--gpu_ids", "-1",
                                "--display_id", "0"]
    try:
        os.chdir(repo)
        # the reference's own top-level packages (options, models, data, util), from the checkout
        opt = importlib.import_module("options.train_options").TrainOptions().parse()
        model = importlib.import_module("models").create_model(opt)
        model.data_dependent_initialize(batch)
        model.setup(opt)
    finally:
        sys.argv = argv
        os.chdir(cwd)
        sys.path.remove(repo)
        for name in [n for n in sys.modules if n.split(".")[0] in ("models", "options", "data", "util")]:
            del sys.modules[name]  # our translate.models is a different package; keep the names free
    return model


def our_trainer(size: int, ngf: int, blocks: int, extra: list[str]):
    from translate.config import load_config
    from translate.commands.train import build_trainer
    from translate.datasets.sources import resolve_source

    cfg = load_config("cut", ["dataset=demo", f"model.ngf={ngf}", f"model.n_blocks={blocks}",
                              f"data.load_size={size}", f"data.crop_size={size}", "train.steps=100000",
                              "train.decay_steps=0", "data.synthetic.n_train=8", "data.synthetic.n_test=4",
                              "train.device=cpu", *extra])
    return build_trainer(resolve_source(cfg), tempfile.mkdtemp(), progress=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference-repo", required=True, help="checkout of taesungp/contrastive-unpaired-translation")
    p.add_argument("--steps", type=int, default=30, help="timed steps of each")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--blocks", type=int, default=6, choices=(6, 9))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for our trainer")
    p.add_argument("--profile", type=int, default=0, help="print torch.profiler tables of this many steps instead")
    args = p.parse_args(argv)
    if not os.path.isfile(os.path.join(args.reference_repo, "train.py")):
        sys.exit(f"error: --reference-repo {args.reference_repo}: no train.py there; give a checkout of "
                 "taesungp/contrastive-unpaired-translation")
    os.environ.setdefault("TRANSLATE_DATA", os.path.join(tempfile.gettempdir(), "translate-bench-data"))
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    a, b = (torch.rand(1, 3, args.size, args.size) * 2 - 1 for _ in range(2))
    ref_batch = {"A": a, "B": b, "A_paths": ["a"], "B_paths": ["b"]}
    ref = reference_model(os.path.abspath(args.reference_repo), args.size, args.ngf, args.blocks, ref_batch)
    ours = our_trainer(args.size, args.ngf, args.blocks, args.set)
    torch.set_num_threads(args.threads)  # our trainer applies train.threads (0 = leave as is)

    def ref_step():
        ref.set_input(ref_batch)
        ref.optimize_parameters()

    def our_step():
        ours.train_step({"a": a, "b": b})
        ours.step += 1

    for _ in range(args.warmup):
        ref_step()
        our_step()
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        for name, fn in (("reference", ref_step), ("ours", our_step)):
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(args.profile):
                    fn()
            print(f"\n### {name}, {args.profile} steps\n")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
        return 0
    times = {"reference": [], "ours": []}
    for i in range(args.steps):
        order = (("reference", ref_step), ("ours", our_step))
        for name, fn in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    ratios = [o / r for o, r in zip(times["ours"], times["reference"])]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?") if os.path.exists("/proc/cpuinfo") else "?"
    print(f"{cpu}; torch {torch.__version__}, {torch.get_num_threads()} threads; {args.size} px, ngf {args.ngf}, "
          f"{args.blocks} blocks, batch 1; {args.steps} steps each, alternating; load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print("| trainer | s per step, median | ours / reference, median of per-step ratios (quartiles) |")
    print("|---|---|---|")
    q = statistics.quantiles(ratios, n=4)
    print(f"| reference | {statistics.median(times['reference']):.3f} | 1 |")
    print(f"| ours {' '.join(args.set)} | {statistics.median(times['ours']):.3f} | "
          f"{statistics.median(ratios):.3f} ({q[0]:.3f}-{q[2]:.3f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
