"""Periodic work around the step loop (detectron2-style hooks): logging, progress, samples, checkpoints.

A hook receives events (the methods of :class:`Hook`): after every step, at a stage change, after an
evaluation and at the end. The trainer sends every event to every hook and never asks what a hook is;
a hook that produces an event (EvalHook) sends it through ``trainer.emit``. Only rank 0 gets hooks.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torchvision.utils import make_grid

from translate.datasets.imageio import save_image
from translate.progress import Progress
from translate.records import append_jsonl
from translate.runfolder.layout import RunFolder


class Hook:
    """The events; each default does nothing."""

    def after_step(self, trainer, logs: dict[str, float]) -> None:
        """After each optimisation step (trainer.step already counts it)."""

    def on_stage_change(self, trainer, old, new) -> None:
        """Before the first step of stage ``new`` (trainer.stage is still ``old``)."""

    def on_eval(self, trainer, record: dict) -> None:
        """After an evaluation during training; ``record`` is the line written to metrics.jsonl."""

    def after_train(self, trainer) -> None:
        """When the loop ends, at the last step or after Ctrl-C."""


class LogHook(Hook):
    """Averages the step logs over ``every`` steps and appends one JSON record per interval to log.jsonl."""

    def __init__(self, path: Path, every: int):
        self.path, self.every = path, max(1, every)
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # per key: a key logged on some steps only (a stage switch or warm-up
        self.count = 0                    # inside the interval) is averaged over the steps that logged it
        self.t_last = time.perf_counter()

    def after_step(self, trainer, logs):
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
        self.count += 1
        if trainer.step % self.every == 0 or trainer.step == trainer.total_steps:
            self.flush(trainer)

    def flush(self, trainer):
        if not self.count:
            return
        now = time.perf_counter()
        record = {"step": trainer.step, "stage": trainer.stage.name, "lr": trainer.current_lr,
                  "steps_per_s": round(self.count / max(now - self.t_last, 1e-9), 4)}
        record.update({k: round(v / self.counts[k], 6) for k, v in self.sums.items()})
        append_jsonl(self.path, record)  # a nan loss is written as null: every line stays valid JSON
        self.sums, self.counts, self.count, self.t_last = {}, {}, 0, now

    def after_train(self, trainer):
        self.flush(trainer)


class ProgressHook(Hook):
    """The progress line: step, steps/s, time left, and a running mean of each loss."""

    def __init__(self, total: int, start: int, every: int):
        self.progress = Progress(total, start=start, every=every)
        self.ema: dict[str, float] = {}

    def after_step(self, trainer, logs):
        for k, v in logs.items():
            self.ema[k] = v if k not in self.ema else 0.9 * self.ema[k] + 0.1 * v
        shown = {k: v for k, v in self.ema.items() if "/" in k and not k.startswith("time")}
        self.progress.update(trainer.step, shown)

    def on_stage_change(self, trainer, old, new):
        self.ema.clear()  # the next stage logs other losses

    def after_train(self, trainer):
        self.progress.close()


class SampleHook(Hook):
    """Writes samples/step_N.png: one row per fixed input image, columns as the stage defines them."""

    def __init__(self, folder: Path, images: torch.Tensor, every: int):
        self.folder, self.images, self.every = folder, images, every
        self.folder.mkdir(parents=True, exist_ok=True)

    def after_step(self, trainer, logs):
        if self.every and trainer.step % self.every == 0:
            self.write(trainer)

    def on_stage_change(self, trainer, old, new):
        self.after_train(trainer)  # a grid of the stage that ends (coop: input | G output | revised)

    def after_train(self, trainer):
        if not (self.folder / f"step_{trainer.step}.png").exists():
            self.write(trainer)

    def write(self, trainer) -> Path:
        columns = trainer.sample_columns(self.images.to(trainer.device))
        n = self.images.shape[0]
        rows = torch.stack(columns, dim=1).reshape(n * len(columns), *self.images.shape[1:])  # (n*cols, 3, H, W)
        scale = max(1, 128 // rows.shape[-2])  # small training crops are enlarged so that a person can see them
        if scale > 1:
            rows = torch.nn.functional.interpolate(rows.float(), scale_factor=scale, mode="nearest")
        grid = make_grid(rows.float().cpu(), nrow=len(columns), padding=2, pad_value=1.0)
        path = self.folder / f"step_{trainer.step}.png"
        save_image(grid, path)
        return path


class CheckpointHook(Hook):
    """Writes ckpt/latest.pt every ``every`` steps and at the end; ckpt/step_N.pt every ``keep_every``."""

    def __init__(self, folder: RunFolder, every: int, keep_every: int):
        self.folder, self.every, self.keep_every = folder, every, keep_every

    def after_step(self, trainer, logs):
        if self.every and trainer.step % self.every == 0:
            trainer.save(self.folder.latest)
        if self.keep_every and trainer.step % self.keep_every == 0:
            trainer.save(self.folder.kept(trainer.step))

    def after_train(self, trainer):
        trainer.save(self.folder.latest)
