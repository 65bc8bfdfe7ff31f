"""Where bf16 autocast departs from fp32 in CUT training: one step's gradients per part, and whole trajectories.

    python benchmarks/bf16_diagnosis.py                             # demo preset: gradients at init and after 200 steps
    python benchmarks/bf16_diagnosis.py --trajectory 300 --seeds 0,1 --json traj.json

**Gradients** (default). From one state of G, D and F and one real batch of the demo set, each policy computes
the step's gradients as ``Trainer.train_step`` does (the D phase, then G's terms one by one: GAN, NCE, identity
NCE), with the same patch ids (the RNG is reseeded). ``fp32`` is the reference; ``bf16`` is plain autocast;
``bf16+PART`` keeps PART in fp32 under autocast (translate.models.precision: ``nce`` = F, the PatchNCE logits
and loss; ``gan`` = D's last conv, the LSGAN logits; ``norm`` = instance norm), ``bf16+policy`` is the
model's default policy. Per policy, medians over ``--batches`` batches: each loss's relative error, and per
term and parameter group (G's encoder and decoder, F, D) the cosine similarity and norm ratio of the gradient
against fp32's. A part that bends bf16's gradients shows as a cosine below the others that its fp32 policy
repairs. Adam's state stays fp32 under autocast (the parameters are fp32), and Langevin gradients belong to
the CoopInit stage, which a CUT step does not run.

**Trajectories** (``--trajectory N``). Per seed, runs train N steps from the same initial weights on the same
batches and patch ids: ``fp32``; ``fp32, bf16-rounded init`` (fp32 training from weights rounded once to bf16:
a perturbation of bf16's size, after which the dynamics are fp32's, so it measures how far chaos alone carries
two runs apart); ``bf16``; ``bf16+policy``. Figures: the mean ``G/change`` (mean |G(a) - a|: how much G
translates) and D's scores over the first and second half, and each run's distance from the fp32 run in G's
weights relative to how far fp32 moved them. bf16 that lags systematically (translates less) shows as a lower
``G/change`` than both fp32 runs on every seed; bf16 that is only another chaotic trajectory stays within the
rounded-init run's distance.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile

import torch

POLICIES = {"fp32": None, "bf16": (), "bf16+nce": ("nce",), "bf16+gan": ("gan",), "bf16+norm": ("norm",),
            "bf16+nce+gan+norm": ("nce", "gan", "norm"), "bf16+policy": "default"}
GROUPS = ("G.encoder", "G.decoder", "F", "D")


def _group(name: str) -> str:
    if name.startswith("F."):
        return "F"
    if name.startswith("D."):
        return "D"
    return "G.decoder" if name.startswith("G.decoder") else "G.encoder"


def _policy(parts):
    from translate.models import precision

    return precision.fp32_parts(precision.DEFAULT_FP32 if parts == "default" else frozenset(parts or ()))


def step_gradients(trainer, batch: dict, parts, seed: int) -> tuple[dict, dict]:
    """(losses, gradient per 'term|parameter') of one D+G step at the current weights, without updating them."""
    model, device = trainer.stage.model, trainer.device
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if parts is not None else contextlib.nullcontext()
    grads, losses = {}, {}
    with _policy(parts):
        torch.manual_seed(seed)
        batch = trainer._to_device(batch)
        trainer._toggle(model.phases[-1])
        with amp:
            out = model(batch)
        for phase in model.phases:
            trainer._toggle(phase)
            with amp:
                terms = model.phase_losses(phase, batch, out).optimise
            losses.update({k: float(v.detach()) for k, v in terms.items()})
            # D's gradient as one; G's per term (GAN, NCE, identity NCE), to see which one bf16 bends
            parts_of = {phase: sum(terms.values())} if phase == "D" else terms
            for i, (term, loss) in enumerate(parts_of.items()):
                model.zero_grad(set_to_none=True)
                last = phase == model.phases[-1] and i == len(parts_of) - 1
                loss.backward(retain_graph=not last)
                for name, p in model.named_parameters():
                    if p.grad is not None:
                        grads[f"{term}|{name}"] = p.grad.detach().float().clone()
    model.zero_grad(set_to_none=True)
    return losses, grads


def compare(ref: tuple, got: tuple) -> dict:
    (l_ref, g_ref), (l_got, g_got) = ref, got
    row = {f"loss {k} rel err": abs(l_got[k] - l_ref[k]) / max(abs(l_ref[k]), 1e-8) for k in l_ref}
    for term in sorted({key.split("|")[0] for key in g_ref}):
        for group in GROUPS:
            if (term == "D") != (group == "D"):
                continue
            names = [k for k in g_ref if k.startswith(term + "|") and _group(k.split("|")[1]) == group]
            if not names:
                continue
            a = torch.cat([g_ref[n].flatten() for n in names])
            b = torch.cat([g_got[n].flatten() for n in names])
            row[f"{term} grad cos {group}"] = float(torch.nn.functional.cosine_similarity(a, b, dim=0))
            row[f"{term} grad norm ratio {group}"] = float(b.norm() / a.norm().clamp_min(1e-30))
    return row


def gradients(cfg, warm_steps: list[int], n_batches: int, seed: int) -> dict:
    from translate.commands.train import build_trainer
    from translate.datasets.sources import resolve_source

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(resolve_source(cfg), tmp, progress=False)
        batches = iter(trainer.loader)
        for warm in warm_steps:
            while trainer.step < warm:
                trainer.train_step(next(batches))
                trainer.step += 1
            rows = {name: [] for name in POLICIES if name != "fp32"}
            for i in range(n_batches):
                batch = next(batches)
                ref = step_gradients(trainer, batch, None, seed + i)
                for name, parts in POLICIES.items():
                    if parts is not None:
                        rows[name].append(compare(ref, step_gradients(trainer, batch, parts, seed + i)))
            results[f"after {warm} fp32 steps"] = {name: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
                                                   for name, rs in rows.items()}
    return results


RUNS = {"fp32": ("fp32", None, False), "fp32, bf16-rounded init": ("fp32", None, True),
        "bf16": ("bf16", (), False), "bf16+policy": ("bf16", "default", False)}


def trajectory(cfg, steps: int) -> dict:
    """Per run: mean G/change and D scores per half, and G's weight distance from the fp32 run."""
    import dataclasses

    from translate.commands.train import build_trainer
    from translate.datasets.sources import resolve_source

    finals, rows = {}, {}
    for name, (precision, parts, rounded) in RUNS.items():
        run_cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=precision))
        with tempfile.TemporaryDirectory() as tmp, _policy(parts):
            trainer = build_trainer(resolve_source(run_cfg), tmp, progress=False)
            G = trainer.networks.G
            if rounded:
                with torch.no_grad():
                    for p in trainer.networks.parameters():
                        p.copy_(p.bfloat16().float())
            start = {k: v.detach().clone() for k, v in G.state_dict().items()}
            batches, logs = iter(trainer.loader), []
            for _ in range(steps):
                logs.append(trainer.train_step(next(batches)))
                trainer.step += 1
            finals[name] = {k: v.detach().clone() for k, v in G.state_dict().items()}
        half = steps // 2
        row = {}
        for key in ("G/change", "D/score_fake", "D/score_real"):
            row[f"{key} first half"] = statistics.fmean(r[key] for r in logs[:half])
            row[f"{key} second half"] = statistics.fmean(r[key] for r in logs[half:])
        rows[name] = row
        if name == "fp32":
            moved = torch.cat([(finals[name][k] - start[k]).flatten().float() for k in start]).norm()
    for name, row in rows.items():
        diff = torch.cat([(finals[name][k] - finals["fp32"][k]).flatten().float() for k in finals["fp32"]]).norm()
        row["G weights: distance from fp32 / fp32's movement"] = float(diff / moved)
    return rows


def table(rows: dict, title: str) -> str:
    """One line per figure, one column per policy or run."""
    names = list(rows)
    lines = [f"\n{title}\n", "| figure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key in next(iter(rows.values())):
        lines.append(f"| {key} | " + " | ".join(f"{rows[n][key]:.4f}" for n in names) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="demo")
    p.add_argument("--warm-steps", default="0,200", help="fp32 training steps before each gradient comparison")
    p.add_argument("--batches", type=int, default=4, help="batches compared per state (median reported)")
    p.add_argument("--trajectory", type=int, default=0, help="train this many steps per run instead")
    p.add_argument("--seeds", default="0")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    os.environ.setdefault("TRANSLATE_DATA", os.path.join(tempfile.gettempdir(), "translate-bench-data"))
    torch.set_num_threads(args.threads)
    from translate.config import load_config

    results = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = load_config(args.config, ["dataset=demo", "train.device=cpu", "train.precision=fp32",
                                        f"train.seed={seed}", f"train.threads={args.threads}", *args.set])
        if args.trajectory:
            found = {f"seed {seed}, {args.trajectory} steps": trajectory(cfg, args.trajectory)}
        else:
            found = {f"seed {seed}, {k}": v for k, v in
                     gradients(cfg, sorted(int(s) for s in args.warm_steps.split(",")), args.batches, seed).items()}
        for title, rows in found.items():
            print(table(rows, f"{args.config}: {title}"), flush=True)
        results.update(found)
    if args.json:
        from translate.atomic import write_text

        write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
