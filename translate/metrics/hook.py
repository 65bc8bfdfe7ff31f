"""Evaluation during training: a hook (translate/events.py) that scores G on a fixed test subset every
train.eval_every steps.

Each evaluation appends one record to ``RUN/metrics.jsonl`` (step, stage, generator, figures, the feature
extractor's name) and, for each metric in ``eval.best``, rewrites ``ckpt/best_<metric>.pt`` when the figure
improves (it asks the trainer with a SaveCheckpoint request), so best and last checkpoints are both kept and
every number names its step; then it announces the record (Evaluated) to the other hooks.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

from translate.config import Config
from translate.events import Evaluated, Hook, HookContext, Request, SaveCheckpoint
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

    def after_step(self, ctx: HookContext, logs):
        if ctx.step % self.every == 0:
            yield from self.evaluate(ctx)

    def after_train(self, ctx: HookContext):
        if self.last_step != ctx.step and not ctx.stopped:
            yield from self.evaluate(ctx)

    def evaluate(self, ctx: HookContext) -> Iterator[Request]:
        """Score ctx.G; asks for best_<metric>.pt where a figure improved, then announces the record."""
        t0 = time.perf_counter()
        result, _ = self.evaluator.run(ctx.G)
        record = {"step": ctx.step, "stage": ctx.stage, "generator": ctx.generator}
        record.update({k: v for k, v in result.items() if k in FIGURES or k in ("kid_std", "features", "n_images")})
        record["seconds"] = round(time.perf_counter() - t0, 3)
        improved = self._update_best(record)
        for m in improved:
            yield SaveCheckpoint(self.folder.best(m))
        record["improved"] = improved
        append_jsonl(self.path, record)  # a nan score is written as null: every line stays valid JSON
        self.last_step = ctx.step
        shown = ", ".join(f"{k} {record[k]:.4g}" for k in FIGURES if isinstance(record.get(k), float))
        log.info("eval at step %d [%s features]: %s%s", ctx.step, record.get("features", "-"), shown,
                 f" (new best {', '.join(improved)})" if improved else "")
        yield Evaluated(record)


def build_eval_hooks(cfg: Config, run_dir: Path, device, start_step: int) -> list[Hook]:
    """The hooks for train.eval_every and eval.tensorboard (none when both are off), for rank 0's trainer.

    ``device``: where the evaluation networks run (the run's); ``start_step``: the step training starts
    from (a resume forgets the evaluations after it).
    """
    e, hooks = cfg.eval, []  # checked by translate.config.validate: names, signs, a dataset with a test split
    if cfg.train.eval_every > 0:
        evaluator = Evaluator(cfg.data.root, e.split, e.features, device, e.batch_size, e.n_images or None,
                              e.metrics)
        hooks.append(EvalHook(evaluator, run_dir, cfg.train.eval_every, e.best, start_step))
    if e.tensorboard:
        from translate.metrics.tensorboard import TensorBoardHook

        hooks.append(TensorBoardHook(Path(run_dir) / "tb", cfg.train.log_every))
    return hooks
