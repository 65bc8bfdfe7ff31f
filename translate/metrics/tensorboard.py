"""Optional TensorBoard logging (eval.tensorboard): losses every train.log_every steps and every evaluation."""
from __future__ import annotations

from pathlib import Path

from translate.events import Hook
from translate.errors import ConfigError


class TensorBoardHook(Hook):
    """Writes RUN/tb/ event files; the step logs are written as they come, averaged over ``every`` steps."""

    def __init__(self, folder: Path, every: int):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError("eval.tensorboard: the tensorboard package is not installed "
                              "(pip install tensorboard, or set eval.tensorboard=false)") from None
        self.writer = SummaryWriter(log_dir=str(folder))
        self.every = max(1, every)  # steps averaged into one point
        self.sums: dict[str, float] = {}
        self.count = 0

    def after_step(self, ctx, logs):
        for k, v in logs.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1
        if ctx.step % self.every == 0:
            for k, v in self.sums.items():
                self.writer.add_scalar(f"train/{k}", v / self.count, ctx.step)
            self.writer.add_scalar("train/lr", ctx.lr, ctx.step)
            self.sums, self.count = {}, 0

    def on_eval(self, ctx, record: dict) -> None:
        for k, v in record.items():
            if isinstance(v, float) and k != "seconds":
                tag = f"eval/{k}[{record.get('features')}]" if k.split("_")[0] in ("fid", "kid") else f"eval/{k}"
                self.writer.add_scalar(tag, v, record["step"])
        self.writer.flush()

    def after_train(self, ctx):
        self.writer.close()
