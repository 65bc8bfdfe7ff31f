"""The step loop: stages, phases, optimisers, LR schedule, AMP, EMA, and hooks for periodic work.

Progress is counted in steps. Everything a step draws at random comes from the step index (data) or from
RNG states saved in the checkpoint (patch sampling, flips), so ``--resume`` continues exactly.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import random
import signal
import threading
from pathlib import Path

import torch

from translate.config import Config, check_decay, save_config
from translate.datasets.sources import resolve_source
from translate.datasets.folder import build_dataset, build_loader, fixed_images, resolve_layout
from translate.engine.device import (autocast, compile_networks, resolve_device,
                                     resolve_precision)
from translate.engine.distributed import average_gradients, average_logs, check_in_sync
from translate.engine.ema import build_ema, update_ema
from translate.engine.hooks import CheckpointHook, LogHook, ProgressHook, SampleHook
from translate.engine.optim import build_optimizers, lr_factor, set_lr
from translate.engine.stages import build_stages, stage_at
from translate.errors import CheckpointError, ConfigError, DataError
from translate.models.contract import StageContext, optional_member
from translate.models.cut import build_model
from translate.records import repair_torn_tail
from translate.runfolder.layout import RunFolder
from translate.runfolder.schema import (load_checkpoint, restore_networks, restore_optimisation, save_checkpoint,
                                        training_state)

log = logging.getLogger(__name__)


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


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False, rank: int = 0, world_size: int = 1):
        self.run_dir = Path(run_dir)
        self.folder = RunFolder(self.run_dir)  # the paths of everything the run writes
        self.rank, self.world_size = rank, world_size
        self.device = resolve_device(cfg.train.device)
        self.dtype = resolve_precision(cfg.train.precision, self.device)
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        torch.manual_seed(cfg.train.seed)
        random.seed(cfg.train.seed)  # FastCUT's flip draws from it: ranks must agree, runs must repeat
        if not (cfg.data.root or cfg.data.domain_a):  # `translate train` passes a resolved config
            cfg = resolve_source(cfg)
        self.dataset = build_dataset(cfg.data, split="train", seed=cfg.train.seed)
        total, decay = resolve_schedule(cfg.train, self.dataset.n_a, cfg.data.batch_size * world_size)
        self.cfg = cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=total, decay_steps=decay))
        self.total_steps, self.decay_steps = total, decay
        per_epoch = math.ceil(self.dataset.n_a / (cfg.data.batch_size * world_size))
        self.lr_every = per_epoch if cfg.train.lr_per_epoch else 1  # steps between LR changes
        if self.lr_every > 1 and (decay % per_epoch or total % per_epoch):
            raise ConfigError(f"train.lr_per_epoch: train.steps ({total}) and train.decay_steps ({decay}) must be "
                              f"whole epochs of {per_epoch} steps")
        if cfg.data.jitter_off_in_decay and decay > 0:
            self.dataset.no_jitter_from = (total - decay) * cfg.data.batch_size * world_size

        self.networks = build_model(cfg.model).to(self.device)
        if cfg.train.channels_last:
            self.networks.to(memory_format=torch.channels_last)
        self.G_ema = build_ema(self.networks.G) if cfg.train.ema > 0 else None
        if world_size > 1:
            check_in_sync([self.networks], self.device)
        if cfg.train.compile:
            compile_networks(self.networks)  # after build_ema: G_ema stays a plain module
        self.stages = build_stages(cfg, self.networks, total)
        self.step = 0
        self.stage = stage_at(self.stages, 0)
        self.optimizers = self._build_optimizers()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        if resume:
            self.load(self.folder.latest)
            if rank == 0:  # a killed run may have left half a line; the next record must start a new one
                for records in (self.folder.log, self.folder.metrics):
                    repair_torn_tail(records)
        self.current_lr = cfg.train.lr * lr_factor(self.step, total, decay, self.lr_every)
        self.loader = build_loader(self.dataset, cfg.data, start_step=self.step, rank=rank, world_size=world_size,
                                   device_type=self.device.type)
        self.hooks = self._build_hooks() if rank == 0 else []
        self._stop_requested, self._stop_signal = False, None

    # ------------------------------------------------------------------ setup
    def _build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        t = self.cfg.train
        return build_optimizers(self.stage.model, t.lr, (t.beta1, t.beta2))

    def _sample_images(self) -> torch.Tensor:
        d = self.cfg.data
        try:
            files_a, _ = resolve_layout(d.root or None, d.domain_a or None, d.domain_b or None, split="test")
        except DataError:
            files_a = self.dataset.files_a
        return fixed_images(files_a, self.cfg.train.n_samples, d.crop_size)

    def _build_hooks(self) -> list:
        from translate.metrics.hook import build_eval_hooks  # metrics load only with the hooks (rank 0)

        t, folder = self.cfg.train, self.folder
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, folder.config)
        return [
            LogHook(folder.log, t.log_every),
            ProgressHook(self.total_steps, self.step, t.log_every),
            SampleHook(folder.samples, self._sample_images(), t.sample_every),
            CheckpointHook(folder, t.ckpt_every, t.keep_every),
            *build_eval_hooks(self),
        ]

    # ------------------------------------------------------------------ one step
    def _toggle(self, phase: str) -> None:
        """Only the current phase's parameters collect gradients (stylegan3-style)."""
        model = self.stage.model
        for name in model.phases:
            for p in model.phase_parameters(name):
                p.requires_grad_(name == phase)

    def _to_device(self, batch: dict) -> dict:
        fmt = torch.channels_last if self.cfg.train.channels_last else torch.contiguous_format
        return {k: v.to(self.device, non_blocking=True, memory_format=fmt) if torch.is_tensor(v) else v
                for k, v in batch.items()}

    def train_step(self, batch: dict) -> dict[str, float]:
        model = self.stage.model
        model.train()
        self.current_lr = self.cfg.train.lr * lr_factor(self.step, self.total_steps, self.decay_steps, self.lr_every)
        set_lr(self.optimizers, self.current_lr)
        batch = self._to_device(batch)
        set_step = optional_member(model, "set_step")
        if set_step:
            set_step(self.step)
        self._toggle(model.phases[-1])  # the shared forward runs G, which the last phase trains
        with autocast(self.device, self.dtype):
            out = model(batch)
        logs: dict[str, float] = {}
        for phase in model.phases:
            self._toggle(phase)
            with autocast(self.device, self.dtype):
                losses = model.phase_losses(phase, batch, out)
            opt = self.optimizers[phase]
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(losses.total()).backward()
            if self.world_size > 1:
                average_gradients(model.phase_parameters(phase), self.world_size)
            self.scaler.step(opt)
            logs.update(losses.log_values())
        self.scaler.update()
        if self.G_ema is not None:
            update_ema(self.G_ema, self.networks.G, self.cfg.train.ema)
        logs.update(out.logs)
        return average_logs(logs, self.device) if self.world_size > 1 else logs

    @torch.no_grad()
    def sample_columns(self, a: torch.Tensor) -> list[torch.Tensor]:
        G = self.G_ema if self.G_ema is not None else self.networks.G
        columns = optional_member(self.stage.model, "sample_columns")
        return columns(a, G) if columns else [a, G(a)]

    # ------------------------------------------------------------------ loop
    def emit(self, event: str, *args) -> None:
        """Send a hook event (a method of engine.hooks.Hook) to every hook."""
        for hook in self.hooks:
            getattr(hook, event)(self, *args)

    def _switch_stage_if_needed(self) -> None:
        stage = stage_at(self.stages, self.step)
        if stage is not self.stage:
            self.emit("on_stage_change", self.stage, stage)
            log.info("step %d: switching from stage %r to %r (optimiser states reset)", self.step, self.stage.name,
                     stage.name)
            self.stage = stage
            self.optimizers = self._build_optimizers()
            on_enter = optional_member(stage.model, "on_stage_start")
            if on_enter:
                on_enter(StageContext(self.device, stage.images))

    @property
    def stopped(self) -> bool:
        """Whether Ctrl-C or SIGTERM asked the loop to stop early (hooks read it in after_train)."""
        return self._stop_requested

    @property
    def stop_signal(self) -> int | None:
        """The signal that stopped the loop early (SIGINT or SIGTERM), None when it ran to the end."""
        return self._stop_signal

    def _on_stop_signal(self, signum, frame) -> None:
        if self._stop_requested:
            raise KeyboardInterrupt  # a second signal: abort now, the last periodic checkpoint stays
        self._stop_requested, self._stop_signal = True, signum
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        log.warning("%s: finishing this step, saving a checkpoint and stopping (send it again to abort)", name)

    def fit(self) -> bool:
        """Train to the end; returns False when stopped early by Ctrl-C or SIGTERM (after the last step's hooks).

        SIGTERM (docker stop, cluster schedulers at the end of a job) is treated like Ctrl-C, so a run killed
        that way keeps everything up to the step it was in.
        """
        previous = {}
        # Under torchrun, Ctrl-C reaches every rank and the launcher at once; a graceful stop would need the
        # ranks to agree on the step, so there the default handler ends the run (resume from ckpt_every).
        if threading.current_thread() is threading.main_thread() and self.world_size == 1:
            previous = {sig: signal.signal(sig, self._on_stop_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            batches = iter(self.loader)
            while self.step < self.total_steps and not self._stop_requested:
                self._switch_stage_if_needed()
                logs = self.train_step(next(batches))
                self.step += 1
                self.emit("after_step", logs)
            self.emit("after_train")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return not self._stop_requested

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        sched = {"policy": "constant_then_linear", "total_steps": self.total_steps, "decay_steps": self.decay_steps,
                 "lr": self.current_lr}
        return training_state(stage=self.stage.name, step=self.step, cfg=self.cfg, networks=self.networks,
                              G_ema=self.G_ema, optimizers=self.optimizers, sched=sched, scaler=self.scaler)

    def save(self, path: Path) -> Path:
        return save_checkpoint(self.state_dict(), path)

    def load(self, path: Path) -> None:
        state = load_checkpoint(path, map_location=self.device)
        step = int(state["step"])
        if step > self.total_steps:  # the loop would not run, and the save at the end would rewrite the file
            raise CheckpointError(f"{path} is at step {step}, beyond train.steps={self.total_steps}; give "
                                  f"--set train.steps=N with N > {step} to train on (the checkpoint is kept)")
        restore_networks(state, self.networks, self.G_ema, path)
        self.step = step
        # Keep the checkpoint's own stage: a file written on the last step of a stage resumes there, and the
        # loop then switches exactly as an uninterrupted run would (optimiser reset, on_stage_start).
        by_name = {s.name: s for s in self.stages}
        if state["stage"] not in by_name:
            raise CheckpointError(f"{path}: stage {state['stage']!r} is not part of this run's config "
                                  f"(stages: {', '.join(by_name)})")
        self.stage = by_name[state["stage"]]
        self.optimizers = self._build_optimizers()
        restore_optimisation(state, self.optimizers, self.scaler)
        log.info("resumed from %s at step %d (stage %s)", path, self.step, self.stage.name)
