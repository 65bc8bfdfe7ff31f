"""Make the bundled demo checkpoint (translate/assets/demo.pt) from a finished ``translate train demo`` run.

    python benchmarks/make_demo_checkpoint.py runs/demo_coop_demo/ckpt/latest.pt

Keeps G (the run's G_ema when it has one) and, for a CoopInit run or with --with-d, D for test-time
refinement; drops F, the optimisers and the RNG state. Stores in the file's ``bundle`` record the exact
``translate train`` command and seeds that reproduce the run (derived from its config and checked to
rebuild it). Loads the result back through load_translator (weights_only=True), refuses it above 5 MB,
scores it on the demo test split (translate/metrics/demo_floors.py) and writes those figures, with floors
just below them, to demo.json next to it. Never replaces either file without --overwrite; both are
written to a temp file and renamed into place.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from translate.config import config_to_dict, load_config
from translate.errors import TranslateError
from translate.metrics.demo_floors import floors_for, score_checkpoint
from translate.runfolder.bundled import MAX_BYTES, bundled_checkpoint
from translate.runfolder.schema import checkpoint_config, inference_state, load_checkpoint, save_checkpoint

log = logging.getLogger("make_demo_checkpoint")
PATH_KEYS = {("data", "root"), ("data", "data_root"), ("data", "domain_a"), ("data", "domain_b")}  # machine-local


def _flat(d: dict, prefix: tuple = ()) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, (*prefix, k)))
        else:
            out[(*prefix, k)] = v
    return out


def reproduction(cfg) -> dict:
    """The ``translate train`` command that rebuilds ``cfg`` (its preset plus one --set per changed key)."""
    if cfg.dataset != "demo":
        raise TranslateError(f"the run was trained on '{cfg.dataset}'; the bundled model must be a `demo` run")
    base = _flat(config_to_dict(load_config(cfg.preset, ["dataset=demo"])))
    ran = _flat(config_to_dict(cfg))
    overrides = []
    for key, value in ran.items():
        if key[:2] in PATH_KEYS or key[:1] == ("preset",) or base.get(key) == value:
            continue
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        overrides.append(f"{'.'.join(key)}={text}")
    rebuilt = _flat(config_to_dict(load_config(cfg.preset, ["dataset=demo", *overrides])))
    if {k: v for k, v in rebuilt.items() if k[:2] not in PATH_KEYS} != \
            {k: v for k, v in ran.items() if k[:2] not in PATH_KEYS}:
        raise TranslateError("cannot express the run's config as `--config PRESET --set ...`; not bundled")
    sets = "".join(f" --set {o}" for o in overrides)
    return {"command": f"translate train demo --config {cfg.preset}{sets}", "preset": cfg.preset,
            "overrides": overrides, "seed": cfg.train.seed, "data_seed": cfg.data.synthetic.seed}


def _write_json_atomic(data: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make(src: Path, out: Path, overwrite: bool, with_d: bool | None, allow_unfinished: bool) -> dict:
    scores_path = out.with_suffix(".json")
    for path in (out, scores_path):
        if path.exists() and not overwrite:
            raise TranslateError(f"{path} exists; pass --overwrite to replace it")
    state = load_checkpoint(src)
    cfg = checkpoint_config(state)
    if cfg.train.steps and state["step"] < cfg.train.steps and not allow_unfinished:
        raise TranslateError(f"{src}: the run stopped at step {state['step']} of {cfg.train.steps}; finish it "
                             "(translate train ... --resume) or pass --allow-unfinished")
    keep_d = cfg.coop.enabled if with_d is None else with_d
    import torch

    bundle = {**reproduction(cfg), "source": str(src), "source_step": int(state["step"]),
              "made_by": "benchmarks/make_demo_checkpoint.py", "torch": str(torch.__version__),
              "made_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    slim = inference_state(state, with_D=keep_d, bundle=bundle)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.making")
    try:
        save_checkpoint(slim, tmp)
        size = tmp.stat().st_size
        if size > MAX_BYTES:
            raise TranslateError(f"the slim checkpoint is {size / 1e6:.2f} MB, over the {MAX_BYTES / 1e6:g} MB "
                                 "limit" + ("; try --no-d" if keep_d else ""))
        scored = score_checkpoint(tmp)  # through load_translator, as apply and the demo load it
        record = {"checkpoint": out.name, "sha256": hashlib.sha256(tmp.read_bytes()).hexdigest(),
                  "bytes": size, "scored": scored, "floors": floors_for(scored), "bundle": slim["bundle"]}
        _write_json_atomic(record, scores_path)
        os.chmod(tmp, 0o644)  # package data: readable by everyone (temp files are created 0600)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="a finished run's ckpt/latest.pt (or the run folder)")
    p.add_argument("--out", default=str(bundled_checkpoint()), help="where to write (default: the bundled file)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint and demo.json")
    d = p.add_mutually_exclusive_group()
    d.add_argument("--with-d", dest="with_d", action="store_true", default=None, help="keep D (refinement)")
    d.add_argument("--no-d", dest="with_d", action="store_false", help="G only")
    p.add_argument("--allow-unfinished", action="store_true", help="accept a run stopped before train.steps")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        record = make(Path(args.src), Path(args.out), args.overwrite, args.with_d, args.allow_unfinished)
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = record["scored"]
    log.info("wrote %s (%.2f MB, %s) and %s", args.out, record["bytes"] / 1e6, record["bundle"]["generator"],
             Path(args.out).with_suffix(".json"))
    log.info("scored on the demo test split (%d images, tiny features): KID %.4g (input %.4g), mode accuracy "
             "%.3f, gt_l1 %.4f", s["n_images"], s["kid"], s["kid_input"], s["mode_accuracy"], s["gt_l1"])
    log.info("reproduce with: %s", record["bundle"]["command"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
