"""Periodic work around the step loop (detectron2-style hooks): logging, progress, samples, checkpoints.

Each is a :class:`translate.events.Hook`: it reads a HookContext at each event and returns requests
(SaveCheckpoint) instead of calling the trainer. build_run (translate/engine/run.py) builds them; only rank 0
gets hooks. The evaluation hooks live in translate/metrics/hook.py.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from translate.datasets.imageio import save_image, tile_images
from translate.events import Hook, HookContext, SaveCheckpoint
from translate.models.contract import optional_member
from translate.progress import Progress
from translate.records import append_jsonl
from translate.runfolder.layout import RunFolder

log = logging.getLogger(__name__)


class LogHook(Hook):
    """Averages the step logs over ``every`` steps and appends one JSON record per interval to log.jsonl."""

    def __init__(self, path: Path, every: int):
        self.path, self.every = path, max(1, every)
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # per key: a key logged on some steps only (a stage switch or warm-up
        self.count = 0                    # inside the interval) is averaged over the steps that logged it
        self.t_last = time.perf_counter()

    def after_step(self, ctx: HookContext, logs):
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
            self.counts[k] = self.counts.get(k, 0) + 1
        self.count += 1
        if ctx.step % self.every == 0 or ctx.step == ctx.total_steps:
            self.flush(ctx)

    def flush(self, ctx: HookContext):
        if not self.count:
            return
        now = time.perf_counter()
        record = {"step": ctx.step, "stage": ctx.stage, "lr": ctx.lr,
                  "steps_per_s": round(self.count / max(now - self.t_last, 1e-9), 4)}
        record.update({k: round(v / self.counts[k], 6) for k, v in self.sums.items()})
        append_jsonl(self.path, record)  # a nan loss is written as null: every line stays valid JSON
        self.sums, self.counts, self.count, self.t_last = {}, {}, 0, now

    def after_train(self, ctx):
        self.flush(ctx)


class IdentityWatchHook(Hook):
    """Warns once when G's output has become its input: the interval means (``every`` steps) of ``G/change``
    (mean |G(x) - x|, images in [-1, 1]) below ``threshold`` for a fifth of the run in a row, judged after its
    first tenth.

    A masked G (model.g_mask) whose mask shut does exactly this. On the demo task (docs/experiments/quality.md,
    "A fourth round" to "A sixth round") 10 runs ended as the identity, each below 0.001 from step 300 or
    earlier (one from step 775) to the end; of the runs that did not, one stayed below 0.001 for 175 steps
    (steps 200-375) and recovered, the others for at most 25. A tenth of the run (150 steps) as patience flagged
    that one; a fifth flags the 10 and none of the others (benchmarks/identity_watch_replay.py replays this on
    the runs' logs). An unmasked G that leaves animals in their source coat
    still repaints every pixel (about 0.15), so this stays silent there.
    """

    def __init__(self, every: int, total: int, threshold: float = 0.001):
        self.every, self.threshold = max(1, every), threshold
        self.start, self.patience = total // 10, max(total // 5, 2 * self.every)
        self.values: list[float] = []
        self.low_steps, self.warned = 0, False

    def after_step(self, ctx, logs):
        if self.warned or "G/change" not in logs or ctx.step <= self.start:
            return
        self.values.append(float(logs["G/change"]))
        if len(self.values) < self.every:
            return
        mean = sum(self.values) / len(self.values)
        self.low_steps = self.low_steps + len(self.values) if mean < self.threshold else 0
        self.values = []
        if self.low_steps >= self.patience:
            self.warned = True
            log.warning("step %d: G has returned its input unchanged for %d steps (mean |G(x) - x| %.5f lately): "
                        "the translator has likely collapsed to the identity (every run of the demo task that "
                        "stayed there this long ended so); look at the latest samples, and if they show the inputs "
                        "unchanged, start again with another train.seed "
                        "(docs/training.md#when-g-returns-its-input)", ctx.step, self.low_steps, mean)


class ProgressHook(Hook):
    """The progress line: step, steps/s, time left, and a running mean of each loss."""

    def __init__(self, total: int, start: int, every: int):
        self.progress = Progress(total, start=start, every=every)
        self.ema: dict[str, float] = {}

    def after_step(self, ctx, logs):
        for k, v in logs.items():
            self.ema[k] = v if k not in self.ema else 0.9 * self.ema[k] + 0.1 * v
        shown = {k: v for k, v in self.ema.items() if "/" in k and not k.startswith("time")}
        self.progress.update(ctx.step, shown)

    def on_stage_change(self, ctx, old, new):
        self.ema.clear()  # the next stage logs other losses

    def after_train(self, ctx):
        self.progress.close()


class SampleHook(Hook):
    """Writes samples/step_N.png: one row per fixed input image, columns as the stage defines them."""

    def __init__(self, folder: Path, images: torch.Tensor, every: int):
        self.folder, self.images, self.every = folder, images, every
        self.folder.mkdir(parents=True, exist_ok=True)

    def after_step(self, ctx, logs):
        if self.every and ctx.step % self.every == 0:
            self.write(ctx)

    def on_stage_change(self, ctx, old, new):
        self.after_train(ctx)  # a grid of the stage that ends (coop: input | G output | revised)

    def after_train(self, ctx):
        if not (self.folder / f"step_{ctx.step}.png").exists():
            self.write(ctx)

    @torch.no_grad()
    def write(self, ctx: HookContext) -> Path:
        a = self.images.to(ctx.device)
        stage_columns = optional_member(ctx.model, "sample_columns")  # the stage's own, e.g. coop adds ỹ
        columns = stage_columns(a, ctx.G) if stage_columns else [a, ctx.G(a)]
        n = self.images.shape[0]
        rows = torch.stack(columns, dim=1).reshape(n * len(columns), *self.images.shape[1:])  # (n*cols, 3, H, W)
        scale = max(1, 128 // rows.shape[-2])  # small training crops are enlarged so that a person can see them
        if scale > 1:
            rows = torch.nn.functional.interpolate(rows.float(), scale_factor=scale, mode="nearest")
        grid = tile_images(rows.float().cpu(), nrow=len(columns))
        path = self.folder / f"step_{ctx.step}.png"
        save_image(grid, path)
        return path


class CheckpointHook(Hook):
    """Writes ckpt/latest.pt every ``every`` steps and at the end; ckpt/step_N.pt every ``keep_every``."""

    def __init__(self, folder: RunFolder, every: int, keep_every: int):
        self.folder, self.every, self.keep_every = folder, every, keep_every

    def after_step(self, ctx, logs):
        if self.every and ctx.step % self.every == 0:
            yield SaveCheckpoint(self.folder.latest)
        if self.keep_every and ctx.step % self.keep_every == 0:
            yield SaveCheckpoint(self.folder.kept(ctx.step))

    def after_train(self, ctx):
        yield SaveCheckpoint(self.folder.latest)
