"""``translate train DATASET``: train a translator (CUT, FastCUT or CoopInit+CUT) into a run folder.

Started by ``torchrun --nproc_per_node=N -m translate train ...`` it trains data-parallel on N processes
(translate/engine/distributed.py); data.batch_size is then per process, and only rank 0 writes files.
"""
from __future__ import annotations

import logging
import os
import signal
import shlex
import sys
from pathlib import Path

from translate.config import config_to_dict, load_config, merge
from translate.datasets.sources import DEMO, resolve_source
from translate.errors import TranslateError
from translate.runfolder.layout import RunFolder
from translate.runfolder.prepare import check_run_folder, prepare_run_folder, run_lock

log = logging.getLogger(__name__)


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a translator on a dataset",
                       description="Train on DATASET: 'demo' (synthetic, offline), a folder with trainA/ and "
                                   "trainB/, a named dataset (downloaded on first use; see `translate datasets "
                                   "list`), or two folders given with --domain-a and --domain-b.")
    p.add_argument("dataset", metavar="DATASET", nargs="?", default="",
                   help="demo, a dataset folder, or a dataset name (horse2zebra, ...)")
    p.add_argument("--domain-a", metavar="DIR", help="folder of domain A images (with --domain-b, instead of DATASET)")
    p.add_argument("--domain-b", metavar="DIR", help="folder of domain B images")
    p.add_argument("--data-root", metavar="DIR", help="where named datasets are downloaded "
                                                       "(default: $TRANSLATE_DATA, else ~/.cache/translate)")
    p.add_argument("--config", help="preset name (cut, fastcut, demo, smoke, ...) or a YAML file "
                                    "(default: demo for 'demo', else cut)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.ngf=32 (repeatable)")
    p.add_argument("--out", help="run folder (default: runs/<dataset>_<preset>, numbered if it exists)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from ckpt/latest.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out that holds a run: its checkpoints, logs and samples are deleted")
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


def _data_flags(args) -> dict:
    """--domain-a/-b and --data-root as a config dict (not --set text: a path must not be parsed as YAML)."""
    if bool(args.domain_a) != bool(args.domain_b):
        raise TranslateError("give both --domain-a DIR and --domain-b DIR (one folder per domain)")
    if args.domain_a and args.dataset:
        raise TranslateError(f"give either DATASET ({args.dataset}) or --domain-a/--domain-b, not both")
    if not (args.domain_a or args.dataset or args.resume):
        raise TranslateError("give a DATASET (demo, a folder, or a name such as horse2zebra) "
                             "or two folders with --domain-a DIR --domain-b DIR")
    data = {}
    if args.domain_a:
        data.update(domain_a=str(Path(args.domain_a).expanduser().resolve()),
                    domain_b=str(Path(args.domain_b).expanduser().resolve()))
    if args.data_root:
        data["data_root"] = str(Path(args.data_root).expanduser().resolve())
    return {"data": data} if data else {}


def _build_config(args):
    flags = _data_flags(args)
    overrides = list(args.overrides)
    if args.device:
        overrides.append(f"train.device={args.device}")
    if args.resume:
        from translate.runfolder.schema import architecture_changes, checkpoint_config, load_checkpoint

        ckpt = RunFolder(Path(args.out)).latest
        if not ckpt.is_file():
            raise TranslateError(f"--resume: no checkpoint at {ckpt}; start a new run without --resume")
        saved_cfg = checkpoint_config(load_checkpoint(ckpt), ckpt)
        if args.config:
            log.warning("--resume: using the run's saved config; --config %s is ignored", args.config)
        if args.overrides:
            log.warning("--resume: applying --set on top of the saved config: %s", " ".join(args.overrides))
        cfg = load_config(None, overrides, base=merge(config_to_dict(saved_cfg), flags))
        changed = architecture_changes(saved_cfg, cfg)
        if changed:
            raise TranslateError(f"--resume: the architecture cannot change in a run: {'; '.join(changed)}. "
                                 "Drop that --set, or start a new run in a new --out folder")
        return cfg
    preset = args.config or ("demo" if args.dataset == DEMO else "cut")
    return load_config(preset, [f"dataset={args.dataset}", *overrides], base=flags)


def _start_distributed(cfg, info) -> None:
    """Join torchrun's process group and pin this rank's GPU (the dataset is resolved already, in run)."""
    from translate.engine import distributed as dist
    from translate.engine.device import resolve_device

    device = dist.local_device(resolve_device(cfg.train.device), info)
    dist.init_process_group(cfg.train.dist_backend, device, info)
    dist.barrier()


# Fragile presets and the CoopInit twin that failed less often on the demo task (5 seeds: 3 of 5 against 5 of 5)
# (issue 24; docs/experiments/coopinit.md#fragile-one-sided-training holds the table and its command).
RECOMMENDED_TWINS = {"fastcut": "coop_fastcut"}


def fragile_note(cfg) -> str | None:
    """What `translate train` tells a user who picked a fragile preset without CoopInit, else None."""
    twin = RECOMMENDED_TWINS.get(cfg.preset)
    if twin is None or cfg.coop.enabled:
        return None
    return (f"the {cfg.preset} preset often leaves its inputs untranslated (the output equals the input, as "
            f"users of the CUT reference report); on the demo task CoopInit in front failed less often: "
            f"--config {twin} is the recommended twin (docs/experiments/coopinit.md#fragile-one-sided-training)")


def run(args) -> int:
    if args.resume and not args.out:
        raise TranslateError("--resume needs --out RUN, the run folder to continue")
    if args.resume and args.overwrite:
        raise TranslateError("give --resume (continue the run) or --overwrite (start it afresh), not both")
    rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone may clear the folder
    if args.out and rank0:  # refuse an existing run at once, before any download; nothing is written yet
        check_run_folder(Path(args.out), resume=args.resume, overwrite=args.overwrite)
    cfg = _build_config(args)
    note = fragile_note(cfg)
    if note and rank0:
        log.warning(note)
    # The one resolve_source of a training start (build_run takes the resolved config): a named dataset is
    # fetched, or its absence reported, before torch is imported. Concurrent DDP ranks are safe: the demo set
    # and downloads are written to temp folders and renamed into place.
    cfg = resolve_source(cfg)
    lock = run_lock(Path(args.out)) if args.out and rank0 else None  # one training per folder, held till the end
    try:
        if lock is not None:  # only once the data is there: a failed start leaves no empty run folder
            prepare_run_folder(Path(args.out), resume=args.resume, overwrite=args.overwrite, lock=lock)
        from translate.engine import distributed as dist  # torch is imported only once the config is valid

        info = dist.env_info()
        if info.enabled:
            _start_distributed(cfg, info)
        try:
            code = _train(args, cfg, info, lock)
            # Every rank waits here for the others (rank 0 saves last) before the group is torn down: a rank that
            # tore its gloo group down while another still used it could abort at exit. Only on success, so a
            # failing rank never leaves the others waiting (torchrun stops them).
            dist.barrier()
            return code
        finally:
            dist.destroy_process_group()
    finally:
        if lock is not None:
            lock.release()


def build_trainer(cfg, run_dir: Path, *, resume: bool = False, rank: int = 0, world_size: int = 1,
                  progress: bool = True):
    """The Trainer of ``translate train``: the run's parts (translate/engine/run.py, build_run; ``cfg`` with its
    data source resolved) with rank 0's evaluation hooks (translate/metrics/hook.py) added."""
    from translate.engine.run import build_run
    from translate.engine.trainer import Trainer

    run = build_run(cfg, run_dir, resume=resume, rank=rank, world_size=world_size, progress=progress)
    if rank == 0:  # metrics load only with the hooks
        from translate.metrics.hook import build_eval_hooks

        run.hooks += build_eval_hooks(run.cfg, run_dir, run.device, run.step)
    return Trainer(run)


def _claim_default_run_dir(name: str, preset: str, lock_box: list) -> Path:
    """A new numbered runs/<name>_<preset>[_N], locked for this process: a training started at the same
    moment takes the next number rather than the same folder."""
    for _ in range(1000):
        run_dir = _default_run_dir(name, preset, False)
        lock = run_lock(run_dir)
        try:
            prepare_run_folder(run_dir, lock=lock)
        except TranslateError:
            if lock.held or not run_dir.is_dir():
                lock.release()
                raise  # not a race with another start (a read-only disk, for instance)
            continue  # another start took this number first
        lock_box.append(lock)
        return run_dir
    raise TranslateError(f"runs/{name}_{preset}: no free numbered folder; give --out")


def _train(args, cfg, info, lock=None) -> int:
    from translate.engine import distributed as dist

    name = args.dataset or f"{Path(args.domain_a).name}2{Path(args.domain_b).name}"
    held = [lock] if lock is not None else []
    run_dir = Path(args.out) if args.out else None
    if run_dir is None and info.rank == 0:
        run_dir = _claim_default_run_dir(name, cfg.preset, held)
    run_dir = dist.broadcast_object(run_dir)  # rank 0's choice: the numbered default must agree
    try:
        return _fit(args, cfg, info, run_dir)
    finally:
        if not args.out:
            for held_lock in held:
                held_lock.release()


def _fit(args, cfg, info, run_dir: Path) -> int:
    trainer = build_trainer(cfg, run_dir, resume=args.resume, rank=info.rank, world_size=info.world_size)
    log.info("run folder: %s | device %s | %s | %d steps (%d decaying) | stage %s at step %d", run_dir,
             trainer.device, str(trainer.dtype).replace("torch.", ""), trainer.total_steps, trainer.decay_steps,
             trainer.stage.name, trainer.step)
    if trainer.device.type == "cuda" and cfg.data.num_workers == 0:
        # Measured ~14 ms per 256x256 image on a CPU core: a large share of a GPU step (docs/training.md, "Data loading").
        log.warning("data.num_workers=0: images are decoded between GPU steps; --set data.num_workers=4 "
                    "loads them in parallel worker processes, ahead of the steps")
    try:
        finished = trainer.fit()
    except OSError as e:  # a full disk or a folder gone read-only while writing logs or samples
        raise TranslateError(f"training stopped at step {trainer.step}: cannot write {e.filename or run_dir} "
                             f"({e.strerror or e}); the last checkpoint is kept in {RunFolder(run_dir).ckpt}; "
                             f"fix that and resume with --resume") from None
    ckpt = RunFolder(run_dir).latest
    if info.rank != 0:
        return 0
    if not finished:
        trainer.save(ckpt)
        print(f"stopped at step {trainer.step}; checkpoint saved to {ckpt}\n"
              f"resume with: translate train {args.dataset} --out {run_dir} --resume", file=sys.stderr)
        # The shell's code for death by that signal (128 + N): 130 after Ctrl-C, 143 after SIGTERM.
        return 128 + int(trainer.stop_signal or signal.SIGINT)
    log.info("%s", next_steps(trainer.step, run_dir, cfg))
    return 0


def _grid_step(path: Path) -> int:
    kept = path.stem.removeprefix("step_")
    return int(kept) if kept.isdigit() else -1


def next_steps(step: int, run_dir: Path, cfg) -> str:
    """The last lines of a finished run: where its samples are, and the commands to try the checkpoint."""
    run = RunFolder(run_dir)
    grids = sorted(run.samples.glob("step_*.png"), key=_grid_step)
    test_a = Path(cfg.data.root) / "testA" if cfg.data.root else None
    images = str(test_a) if test_a is not None and test_a.is_dir() else cfg.data.domain_a
    q = shlex.quote
    return "\n".join([
        f"done: {step} steps; checkpoint {run.latest}",
        f"samples: {run.samples}/" + (f" (latest: {grids[-1].name}: input | output)" if grids else ""),
        f"try it in the browser: translate demo --ckpt {q(str(run_dir))}",
        f"translate images:      translate apply --ckpt {q(str(run.latest))} {q(images) if images else 'IMAGES...'} "
        f"--out {q(str(run_dir / 'translated'))}",
    ])
