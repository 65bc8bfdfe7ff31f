"""Evaluation during training: a trainer hook that scores G on a fixed test subset every train.eval_every steps.

Each evaluation appends one record to ``RUN/metrics.jsonl`` (step, stage, generator, figures, the feature
extractor's name) and, for each metric in ``eval.best``, rewrites ``ckpt/best_<metric>.pt`` when the figure
improves, so best and last checkpoints are both kept and every number names its step.
"""
from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from translate.engine.hooks import Hook
from translate.metrics.evaluate import Evaluator
from translate.metrics.registry import FIGURES, lower_is_better
from translate.records import append_jsonl, read_step_records, rewrite_jsonl
from translate.runfolder.layout import RunFolder

METRIC_FIELDS = frozenset({*FIGURES, "kid_std", "n_images", "seconds"})  # the numbers of an evaluation record

log = logging.getLogger(__name__)


def read_metrics(path: Path) -> list[dict]:
    """The records of a metrics.jsonl; a later record for the same step (after a resume) replaces earlier ones.

    Bad lines and non-numeric figures are skipped with a warning (see :func:`translate.records.read_step_records`).
    """
    return read_step_records(path, METRIC_FIELDS)


class EvalHook(Hook):
    """Runs ``evaluator`` on G_ema (or G) every ``every`` steps and at the end; tracks best checkpoints."""

    def __init__(self, evaluator: Evaluator, run_dir: Path, every: int, best: list[str], start_step: int = 0):
        self.evaluator = evaluator  # holds the fixed test subset and the reference features
        self.folder = RunFolder(run_dir)  # best_<metric>.pt goes to its ckpt/, beside latest.pt
        self.path = self.folder.metrics  # one JSON record per evaluation
        self.every = every  # steps between evaluations (> 0)
        self.best_metrics = best  # metrics whose best checkpoint is kept
        self.best: dict[str, tuple[float, int]] = {}  # metric -> (value, step) of the best so far
        self.last_step = -1
        self._drop_records_after(start_step)

    def _drop_records_after(self, step: int) -> None:
        """On resume, forget evaluations beyond the checkpoint: the resumed run redoes them exactly."""
        records = [r for r in read_metrics(self.path) if r["step"] <= step]
        if self.path.is_file():  # rewritten whole (which also drops a torn last line), atomically
            rewrite_jsonl(self.path, records)
        for r in records:
            self._update_best(r)

    def _update_best(self, record: dict) -> list[str]:
        improved = []
        for m in self.best_metrics:
            value = record.get(m)
            if value is None or not math.isfinite(value):
                continue
            old = self.best.get(m)
            if old is None or (value < old[0] if lower_is_better(m) else value > old[0]):
                self.best[m] = (value, record["step"])
                improved.append(m)
        return improved

    def after_step(self, trainer, logs):
        if trainer.step % self.every == 0:
            self.evaluate(trainer)

    def after_train(self, trainer):
        if self.last_step != trainer.step and not getattr(trainer, "stopped", False):
            self.evaluate(trainer)

    def evaluate(self, trainer) -> dict:
        G = trainer.G_ema if trainer.G_ema is not None else trainer.networks.G
        t0 = time.perf_counter()
        result, _ = self.evaluator.run(G)
        record = {"step": trainer.step, "stage": trainer.stage.name,
                  "generator": "G_ema" if trainer.G_ema is not None else "G"}
        record.update({k: v for k, v in result.items() if k in FIGURES or k in ("kid_std", "features", "n_images")})
        record["seconds"] = round(time.perf_counter() - t0, 3)
        improved = self._update_best(record)
        for m in improved:
            trainer.save(self.folder.best(m))
        record["improved"] = improved
        append_jsonl(self.path, record)  # a nan score is written as null: every line stays valid JSON
        self.last_step = trainer.step
        shown = ", ".join(f"{k} {record[k]:.4g}" for k in FIGURES if isinstance(record.get(k), float))
        log.info("eval at step %d [%s features]: %s%s", trainer.step, record.get("features", "-"), shown,
                 f" (new best {', '.join(improved)})" if improved else "")
        trainer.emit("on_eval", record)
        return record


def build_eval_hooks(trainer) -> list[Hook]:
    """The hooks the trainer adds for train.eval_every and eval.tensorboard (none when both are off)."""
    cfg, hooks = trainer.cfg, []
    e = cfg.eval  # checked by translate.config.validate: names, signs, and a dataset folder with a test split
    if cfg.train.eval_every > 0:
        evaluator = Evaluator(cfg.data.root, e.split, e.features, trainer.device, e.batch_size,
                              e.n_images or None, e.metrics)
        hooks.append(EvalHook(evaluator, trainer.run_dir, cfg.train.eval_every, e.best, trainer.step))
    if e.tensorboard:
        from translate.metrics.tensorboard import TensorBoardHook

        hooks.append(TensorBoardHook(trainer.run_dir / "tb", cfg.train.log_every))
    return hooks
