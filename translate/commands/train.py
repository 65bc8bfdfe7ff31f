"""``translate train DATASET``: train a translator (CUT, FastCUT or CoopInit+CUT) into a run folder."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from translate.config import config_to_dict, load_config
from translate.datasets.sources import DEMO
from translate.errors import TranslateError



log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a translator on a dataset",
                       description="Train on DATASET: 'demo' (synthetic, offline), a folder with trainA/ and "
                                   "trainB/, or a named dataset.")
    p.add_argument("dataset", metavar="DATASET", help="demo, a dataset folder, or a dataset name")
    p.add_argument("--config", help="preset name (cut, fastcut, demo, smoke, ...) or a YAML file "
                                    "(default: demo for 'demo', else cut)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.ngf=32 (repeatable)")
    p.add_argument("--out", help="run folder (default: runs/<dataset>_<preset>, numbered if it exists)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from ckpt/latest.pt")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: train.device, i.e. auto)")
    p.set_defaults(run=run)


def _default_run_dir(dataset: str, preset: str, resume: bool) -> Path:
    base = Path("runs") / f"{Path(dataset).name or 'data'}_{preset}"
    if resume or not base.exists():
        return base
    n = 2
    while Path(f"{base}_{n}").exists():
        n += 1
    return Path(f"{base}_{n}")


def _build_config(args):
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"train.device={args.device}")
    if args.resume:
        from translate.checkpoint import checkpoint_config, load_checkpoint

        ckpt = Path(args.out) / "ckpt" / "latest.pt"
        if not ckpt.is_file():
            raise TranslateError(f"--resume: no checkpoint at {ckpt}; start a new run without --resume")
        saved = config_to_dict(checkpoint_config(load_checkpoint(ckpt)))
        if args.config:
            log.warning("--resume: using the run's saved config; --config %s is ignored", args.config)
        if args.overrides:
            log.warning("--resume: applying --set on top of the saved config: %s", " ".join(args.overrides))
        return load_config(None, overrides, base=saved)
    preset = args.config or ("demo" if args.dataset == DEMO else "cut")
    return load_config(preset, [f"dataset={args.dataset}", *overrides])


def run(args) -> int:
    if args.resume and not args.out:
        raise TranslateError("--resume needs --out RUN, the run folder to continue")
    cfg = _build_config(args)
    from translate.engine.trainer import Trainer  # torch is imported only once the config is valid
    run_dir = Path(args.out) if args.out else _default_run_dir(args.dataset, cfg.preset, False)
    trainer = Trainer(cfg, run_dir, resume=args.resume)
    log.info("run folder: %s | device %s | %s | %d steps (%d decaying) | stage %s at step %d", run_dir,
             trainer.device, str(trainer.dtype).replace("torch.", ""), trainer.total_steps, trainer.decay_steps,
             trainer.stage.name, trainer.step)
    finished = trainer.fit()
    ckpt = run_dir / "ckpt" / "latest.pt"
    if not finished:
        trainer.save(ckpt)
        print(f"stopped at step {trainer.step}; checkpoint saved to {ckpt}\n"
              f"resume with: translate train {args.dataset} --out {run_dir} --resume", file=sys.stderr)
        return 130
    log.info("done: %d steps; checkpoint %s; samples in %s", trainer.step, ckpt, run_dir / "samples")
    return 0
