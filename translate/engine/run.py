"""The parts of a training run, built from a config: ``build_run(cfg, run_dir) -> Run``; ``Trainer(run)`` runs them.

build_run does, in this order (the order of what draws from the global RNGs is part of an exact resume):
seeds, the training data (listed once: the stages' calibration images come from it), the schedule in
steps, the networks (G_ema, channels_last, torch.compile), the stages, the optimisers and the AMP scaler,
the checkpoint on ``resume``, the loader from the start step, and rank 0's hooks (log, progress, samples,
checkpoints). The evaluation hooks are the metrics' (translate/metrics/hook.py, build_eval_hooks): the
caller adds them to ``run.hooks``, as ``translate train`` does, since the engine does not import the metrics.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from translate.config import Config, check_decay, save_config
from translate.datasets.folder import UnpairedImages, build_dataset, build_loader, fixed_images, resolve_layout
from translate.engine.device import compile_networks, resolve_device, resolve_precision
from translate.engine.distributed import check_in_sync
from translate.engine.ema import build_ema
from translate.engine.hooks import CheckpointHook, IdentityWatchHook, LogHook, ProgressHook, SampleHook
from translate.engine.optim import build_optimizers, lr_factor
from translate.engine.stages import Stage, build_stages, stage_at
from translate.errors import CheckpointError, ConfigError, DataError
from translate.events import Hook
from translate.models.cut import build_model
from translate.records import repair_torn_tail
from translate.runfolder.layout import RunFolder
from translate.runfolder.schema import load_checkpoint, restore_networks, restore_optimisation

log = logging.getLogger(__name__)

Optimizers = dict[str, torch.optim.Optimizer]  # one per phase of a stage's model


@dataclass(frozen=True)
class Schedule:
    """The run's length and learning rate: constant, then linear decay to zero over the last decay_steps."""

    total_steps: int  # the run ends after this many steps
    decay_steps: int  # the last steps, over which the LR decays linearly (0 = constant)
    lr: float  # the base learning rate (train.lr)
    every: int = 1  # steps between LR changes: 1, or an epoch's steps with train.lr_per_epoch

    def lr_at(self, step: int) -> float:
        return self.lr * lr_factor(step, self.total_steps, self.decay_steps, self.every)


@dataclass
class Run:
    """Plain parts: what Trainer(run) runs. Rank 0 alone has hooks; append to ``hooks`` before training."""

    cfg: Config  # resolved: a data source, and train.steps / train.decay_steps as the run counts them
    folder: RunFolder  # where the run writes (config.yaml, logs, samples, checkpoints)
    device: torch.device
    dtype: torch.dtype  # autocast precision (torch.float32: none)
    rank: int  # this process's rank, 0 without torchrun
    world_size: int  # processes training together (gradients averaged)
    dataset: UnpairedImages  # the training images, indexed by global sample index
    loader: torch.utils.data.DataLoader  # endless per-rank batches from ``step`` on
    networks: torch.nn.Module  # the CUTModel that owns G, D and F
    G_ema: torch.nn.Module | None  # the EMA of G's weights (train.ema > 0)
    stages: list[Stage]  # translate/engine/stages.py
    schedule: Schedule
    make_optimizers: Callable[[object], Optimizers]  # a stage model -> fresh optimisers (at each stage start)
    optimizers: Optimizers  # the current stage's (restored on resume)
    scaler: torch.amp.GradScaler  # fp16 loss scaling (disabled otherwise)
    hooks: list[Hook]  # translate/events.py
    step: int  # the first step to run: 0, or the checkpoint's on resume
    stage: Stage  # the stage at ``step`` (on resume: the checkpoint's own)


def resolve_schedule(train, n_a: int, global_batch: int) -> tuple[int, int]:
    """(total_steps, decay_steps) from train.steps, or from train.epochs over domain A."""
    if train.steps > 0:
        total, decay = train.steps, train.decay_steps
        if decay == 0 and train.epochs > 0 and train.decay_epochs > 0:
            # A preset counted in epochs (cut.yaml: 200 + 200) shortened by train.steps alone would lose the LR
            # decay and its jitter-free phase, which the reference always has: keep the preset's decay share.
            decay = round(total * train.decay_epochs / train.epochs)
            log.warning("train.steps=%d without train.decay_steps: decaying the LR over the last %d steps, the "
                        "preset's share (%g of %g epochs); set train.decay_steps to choose", total, decay,
                        train.decay_epochs, train.epochs)
    elif train.epochs > 0:
        per_epoch = math.ceil(n_a / global_batch)
        total = math.ceil(train.epochs * per_epoch)
        decay = math.ceil(train.decay_epochs * per_epoch)
    else:
        raise ConfigError("train.steps: set a number of steps (or train.epochs), e.g. --set train.steps=1000")
    check_decay(total, decay)  # again: with train.epochs, the total is known only now
    return total, decay


def _schedule(cfg: Config, dataset: UnpairedImages, world_size: int) -> Schedule:
    global_batch = cfg.data.batch_size * world_size
    total, decay = resolve_schedule(cfg.train, dataset.n_a, global_batch)
    per_epoch = math.ceil(dataset.n_a / global_batch)
    every = per_epoch if cfg.train.lr_per_epoch else 1
    if every > 1 and (decay % per_epoch or total % per_epoch):
        raise ConfigError(f"train.lr_per_epoch: train.steps ({total}) and train.decay_steps ({decay}) must be "
                          f"whole epochs of {per_epoch} steps")
    if cfg.data.jitter_off_in_decay and decay > 0:
        dataset.no_jitter_from = (total - decay) * global_batch
    return Schedule(total, decay, cfg.train.lr, every)


def _networks(cfg: Config, device: torch.device, world_size: int):
    networks = build_model(cfg.model).to(device)
    if cfg.train.channels_last:
        networks.to(memory_format=torch.channels_last)
    G_ema = build_ema(networks.G) if cfg.train.ema > 0 else None
    if world_size > 1:
        check_in_sync([networks], device)
    if cfg.train.compile:
        compile_networks(networks)  # after build_ema: G_ema stays a plain module
    return networks, G_ema


def build_run(cfg: Config, run_dir: str | Path, *, resume: bool = False, rank: int = 0, world_size: int = 1,
              progress: bool = True) -> Run:
    """The parts of a run of ``cfg`` (its data source resolved: datasets.sources.resolve_source) in ``run_dir``.

    ``resume``: continue from run_dir's ckpt/latest.pt (networks, optimisers, scaler, RNGs, step and stage).
    ``progress``: rank 0 shows the progress line (benchmarks that time the steps leave it out).
    """
    if not (cfg.data.root or cfg.data.domain_a):
        raise ConfigError("build_run: the config has no data source yet; pass resolve_source(cfg) "
                          "(translate.datasets.sources), which finds or fetches cfg.dataset")
    device = resolve_device(cfg.train.device)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    torch.manual_seed(cfg.train.seed)
    random.seed(cfg.train.seed)  # FastCUT's flip draws from it: ranks must agree, runs must repeat
    dataset = build_dataset(cfg.data, split="train", seed=cfg.train.seed)
    schedule = _schedule(cfg, dataset, world_size)
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=schedule.total_steps,
                                                             decay_steps=schedule.decay_steps))
    t, folder = cfg.train, RunFolder(Path(run_dir))
    networks, G_ema = _networks(cfg, device, world_size)
    stages = build_stages(cfg, networks, schedule.total_steps, (dataset.files_a, dataset.files_b))
    dtype = resolve_precision(t.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def make_optimizers(model) -> Optimizers:
        return build_optimizers(model, t.lr, (t.beta1, t.beta2))

    step, stage, state = 0, stage_at(stages, 0), None
    if resume:
        state, step, stage = _resume_point(folder.latest, device, schedule.total_steps, stages)
        restore_networks(state, networks, G_ema, folder.latest)
    optimizers = make_optimizers(stage.model)
    if state is not None:
        restore_optimisation(state, optimizers, scaler)  # and every RNG: nothing may draw before the loop now
        if rank == 0:  # a killed run may have left half a line; the next record must start a new one
            for records in (folder.log, folder.metrics):
                repair_torn_tail(records)
        log.info("resumed from %s at step %d (stage %s)", folder.latest, step, stage.name)
    loader = build_loader(dataset, cfg.data, start_step=step, rank=rank, world_size=world_size,
                          device_type=device.type)
    run = Run(cfg=cfg, folder=folder, device=device, dtype=dtype, rank=rank, world_size=world_size,
              dataset=dataset, loader=loader, networks=networks, G_ema=G_ema, stages=stages, schedule=schedule,
              make_optimizers=make_optimizers, optimizers=optimizers, scaler=scaler, hooks=[], step=step,
              stage=stage)
    if rank == 0:
        run.hooks = _hooks(run, progress)
    return run


def _resume_point(path: Path, device: torch.device, total: int, stages: list[Stage]) -> tuple[dict, int, Stage]:
    """(checkpoint, step, stage) to resume from, checked against this run's length and stages."""
    state = load_checkpoint(path, map_location=device)
    step = int(state["step"])
    if step > total:  # the loop would not run, and the save at the end would rewrite the file
        raise CheckpointError(f"{path} is at step {step}, beyond train.steps={total}; give "
                              f"--set train.steps=N with N > {step} to train on (the checkpoint is kept)")
    # Keep the checkpoint's own stage: a file written on the last step of a stage resumes there, and the
    # loop then switches exactly as an uninterrupted run would (optimiser reset, on_stage_start).
    by_name = {s.name: s for s in stages}
    if state["stage"] not in by_name:
        raise CheckpointError(f"{path}: stage {state['stage']!r} is not part of this run's config "
                              f"(stages: {', '.join(by_name)})")
    return state, step, by_name[state["stage"]]


def _sample_images(cfg: Config, dataset: UnpairedImages) -> torch.Tensor:
    """The sample grid's fixed inputs: the first test A images, or the first training ones without a test split."""
    d = cfg.data
    try:
        files_a, _ = resolve_layout(d.root or None, d.domain_a or None, d.domain_b or None, split="test")
    except DataError:
        files_a = dataset.files_a
    return fixed_images(files_a, cfg.train.n_samples, d.crop_size)


def _hooks(run: Run, progress: bool) -> list[Hook]:
    t, folder = run.cfg.train, run.folder
    folder.root.mkdir(parents=True, exist_ok=True)
    save_config(run.cfg, folder.config)
    return [
        LogHook(folder.log, t.log_every),
        *([ProgressHook(run.schedule.total_steps, run.step, t.log_every)] if progress else []),
        SampleHook(folder.samples, _sample_images(run.cfg, run.dataset), t.sample_every),
        CheckpointHook(folder, t.ckpt_every, t.keep_every),
        IdentityWatchHook(t.log_every, run.schedule.total_steps),
    ]
