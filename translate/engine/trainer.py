"""The step loop: stages, phases, optimisers, LR schedule, AMP, EMA, and hooks for periodic work.

Progress is counted in steps. Everything a step draws at random comes from the step index (data) or from
RNG states saved in the checkpoint (patch sampling, flips), so ``--resume`` continues exactly.
"""
from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import torch

from translate.engine.device import autocast
from translate.engine.distributed import average_gradients, average_logs
from translate.engine.ema import update_ema
from translate.engine.optim import set_lr
from translate.engine.run import Run
from translate.engine.stages import stage_at
from translate.events import Evaluated, HookContext, Request, SaveCheckpoint
from translate.models.contract import StageContext, optional_member
from translate.runfolder.schema import save_checkpoint, training_state

log = logging.getLogger(__name__)


class Trainer:
    """Runs the parts of a :class:`Run` (translate/engine/run.py): ``Trainer(build_run(cfg, run_dir)).fit()``."""

    def __init__(self, run: Run):
        self.cfg, self.folder, self.device, self.dtype = run.cfg, run.folder, run.device, run.dtype
        self.rank, self.world_size = run.rank, run.world_size
        self.dataset, self.loader = run.dataset, run.loader
        self.networks, self.G_ema, self.stages = run.networks, run.G_ema, run.stages
        self.schedule, self.make_optimizers, self.optimizers = run.schedule, run.make_optimizers, run.optimizers
        self.scaler, self.hooks = run.scaler, run.hooks  # hooks: append more before fit()
        self.step, self.stage = run.step, run.stage
        self.current_lr = self.schedule.lr_at(self.step)  # the learning rate of the last step
        self._stop_requested, self._stop_signal = False, None

    @property
    def total_steps(self) -> int:
        return self.schedule.total_steps

    @property
    def decay_steps(self) -> int:
        return self.schedule.decay_steps

    def reset_optimizers(self) -> None:
        """Fresh optimisers for the current stage (at a stage start, or over weights loaded from elsewhere)."""
        self.optimizers = self.make_optimizers(self.stage.model)

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
        self.current_lr = self.schedule.lr_at(self.step)
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

    # ------------------------------------------------------------------ hooks
    def context(self) -> HookContext:
        """What a hook may read of the trainer now."""
        return HookContext(step=self.step, total_steps=self.total_steps, stage=self.stage.name,
                           lr=self.current_lr, stopped=self._stop_requested, device=self.device,
                           G=self.G_ema if self.G_ema is not None else self.networks.G,
                           generator="G_ema" if self.G_ema is not None else "G", model=self.stage.model)

    def emit(self, event: str, *args) -> None:
        """Send a hook event (a method of translate.events.Hook) to every hook, and carry out what they ask."""
        ctx = self.context()
        for hook in self.hooks:
            for request in getattr(hook, event)(ctx, *args) or ():
                self._carry_out(request)

    def _carry_out(self, request: Request) -> None:
        if isinstance(request, SaveCheckpoint):
            self.save(request.path)
        elif isinstance(request, Evaluated):
            self.emit("on_eval", request.record)
        else:
            raise TypeError(f"a hook asked for {request!r}, which is not a request of translate.events")

    # ------------------------------------------------------------------ loop
    def _switch_stage_if_needed(self) -> None:
        stage = stage_at(self.stages, self.step)
        if stage is not self.stage:
            self.emit("on_stage_change", self.stage.name, stage.name)
            log.info("step %d: switching from stage %r to %r (optimiser states reset)", self.step, self.stage.name,
                     stage.name)
            self.stage = stage
            self.reset_optimizers()
            on_enter = optional_member(stage.model, "on_stage_start")
            if on_enter:
                on_enter(StageContext(self.device, stage.images))

    @property
    def stopped(self) -> bool:
        """Whether Ctrl-C or SIGTERM asked the loop to stop early (hooks read it as HookContext.stopped)."""
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
