"""Step-for-step parity with the CUT reference: same initial weights, batches and PatchNCE locations.

    python benchmarks/parity_steps.py --reference-repo ~/src/contrastive-unpaired-translation \\
        --reference-python ~/venvs/cut/bin/python --steps 5

The reference's CUTModel is built by its own code (in its own Python) and trained for --steps steps on
batches drawn by our dataset; it records its initial G, D and F, the patch locations it draws, its losses
and its final weights. Our Trainer then starts from those weights, replays the same locations and takes
its own train_step on the same batches. If the two trainers implement the same step (D on the detached
fake of the shared forward, then G and F; LSGAN with D's ½; PatchNCE with identity NCE halved; Adam), the
per-step losses and the final weights agree to float rounding. Prints the differences; exits 1 when a
loss differs by more than --tol (relative).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity_reference import REF_STEPS, map_by_position, reference_args  # noqa: E402

NAMES = {"D/real": ("D_real", 2.0), "D/fake": ("D_fake", 2.0), "G/gan": ("G_GAN", 1.0),
         "G/nce": ("NCE", 2.0), "G/nce_idt": ("NCE_Y", 2.0)}  # ours -> the reference's name and scale


@contextlib.contextmanager
def replayed_randperm(ids: list[torch.Tensor]):
    """torch.randperm returns the reference's recorded permutations, in order (F draws one per layer)."""
    queue, original = list(ids), torch.randperm

    def replay(n, *args, **kwargs):
        p = queue.pop(0)
        if len(p) != n:
            raise AssertionError(f"replayed permutation of {len(p)} for randperm({n}): call order differs")
        return p.clone()

    torch.randperm = replay
    try:
        yield queue
    finally:
        torch.randperm = original


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference-repo", required=True, type=Path)
    p.add_argument("--reference-python", default=sys.executable)
    p.add_argument("--config", default="demo")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tol", type=float, default=1e-3, help="largest relative loss difference accepted")
    p.add_argument("--json", type=Path, help="write the differences here")
    args = p.parse_args(argv)

    from translate.config import load_config
    from translate.datasets.synthetic import ensure_synthetic
    from translate.engine.run import build_run
    from translate.engine.trainer import Trainer

    torch.set_num_threads(1)
    cfg = load_config(args.config, [*args.overrides, "train.device=cpu", "train.threads=1", f"train.seed={args.seed}"])
    root = ensure_synthetic(cfg.data.synthetic)
    import dataclasses
    cfg = dataclasses.replace(cfg, dataset="", data=dataclasses.replace(cfg.data, root=str(root)))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        trainer = Trainer(build_run(cfg, tmp / "run"))
        bs = cfg.data.batch_size
        batches = []
        for s in range(args.steps):
            items = [trainer.dataset[s * bs + i] for i in range(bs)]
            batches.append({"A": torch.stack([x["a"] for x in items]), "B": torch.stack([x["b"] for x in items]),
                            "A_paths": [x["a_path"] for x in items], "B_paths": [x["b_path"] for x in items]})
        torch.save(batches, tmp / "batches.pt")
        ref_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=trainer.total_steps,
                                                                     decay_steps=trainer.decay_steps))
        opts = reference_args(ref_cfg, root, "steps", tmp / "ref")
        subprocess.run([args.reference_python, "-c", REF_STEPS, str(args.reference_repo.resolve()), str(args.seed),
                        str(tmp / "batches.pt"), str(tmp / "ref.pt"), *opts], check=True, cwd=args.reference_repo,
                       stdout=subprocess.DEVNULL)
        ref = torch.load(tmp / "ref.pt", weights_only=True)
        nets = trainer.networks
        for name in "GDF":
            module = getattr(nets, name)
            module.load_state_dict(map_by_position(module, ref["init"][name], f"reference {name}"))
        trainer.reset_optimizers()  # fresh Adam state over the loaded weights
        rows = []
        with replayed_randperm(ref["patch_ids"]) as left:
            for s, b in enumerate(batches):
                logs = trainer.train_step({"a": b["A"], "b": b["B"]})
                trainer.step += 1
                row = {"step": s + 1}
                for ours, (theirs, scale) in NAMES.items():
                    mine, their = logs[ours] * scale, ref["losses"][s][theirs]
                    row[theirs] = {"project": mine, "reference": their,
                                   "rel_diff": abs(mine - their) / max(abs(their), 1e-12)}
                rows.append(row)
            if left:
                raise AssertionError(f"{len(left)} recorded permutations were not used: call order differs")
        weights = {}
        for name in "GDF":
            theirs = map_by_position(getattr(nets, name), ref["final"][name], f"reference {name}")
            weights[name] = max(float((v - theirs[k]).abs().max()) for k, v in getattr(nets, name).state_dict().items())
    worst = max(v["rel_diff"] for r in rows for k, v in r.items() if k != "step")
    for r in rows:
        print(f"step {r['step']}: " + "  ".join(f"{k} {v['project']:.6f}/{v['reference']:.6f}"
                                               for k, v in r.items() if k != "step"))
    print(f"largest relative loss difference {worst:.2e}; final weights max |diff| "
          + ", ".join(f"{k} {v:.2e}" for k, v in weights.items()))
    if args.json:
        args.json.write_text(json.dumps({"steps": rows, "final_weight_max_abs_diff": weights,
                                         "max_rel_loss_diff": worst}, indent=1))
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
