"""The hook protocol: what the trainer tells the work around its step loop, and what that work may ask of it.

A hook (detectron2-style: logging, progress, sample grids, checkpoints, evaluation) receives the events that
are the methods of :class:`Hook`, each with a read-only :class:`HookContext`: the step, the stage, the
learning rate and the networks it may run. It never sees the trainer. A hook that needs the trainer to act
returns requests: :class:`SaveCheckpoint` (the trainer writes its state there) or :class:`Evaluated` (the
trainer passes the record to every hook's ``on_eval``). The trainer carries each request out as it gets it,
so a handler written as a generator runs on after a ``yield`` only once that request is done (EvalHook
announces a record after its best checkpoints are written). The trainer never asks what a hook is.

This module is the base layer's (no torch), so that the engine and the metrics, which must not import each
other, can both implement it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HookContext:
    """The trainer's state at an event, as a hook may read it."""

    step: int  # optimisation steps done (after_step: including the one just taken)
    total_steps: int  # the step at which the run ends
    stage: str  # the current stage's name (on_stage_change: still the stage that ends)
    lr: float  # the learning rate of the last step
    stopped: bool  # Ctrl-C or SIGTERM stopped the loop before total_steps (read it in after_train)
    device: Any  # the torch.device the networks are on (typed loosely: this module does not import torch)
    G: Any  # the generator (an nn.Module) to sample and score: G_ema when the run keeps one, else G
    generator: str  # "G_ema" or "G": which one G is
    model: Any  # the stage's TranslationModel (translate/models/contract.py), for its optional sample_columns


@dataclass(frozen=True)
class SaveCheckpoint:
    """Asks the trainer to write a checkpoint of its current state to ``path``."""

    path: Path


@dataclass(frozen=True)
class Evaluated:
    """Announces an evaluation: the trainer sends ``record`` (a metrics.jsonl line) to every hook's on_eval."""

    record: dict


Request = SaveCheckpoint | Evaluated
Requests = Iterable[Request] | None  # what an event handler returns: None, or requests in order


class Hook:
    """The events; each default does nothing and asks for nothing."""

    def after_step(self, ctx: HookContext, logs: dict[str, float]) -> Requests:
        """After each optimisation step; ``logs`` are the step's losses and diagnostics."""

    def on_stage_change(self, ctx: HookContext, old: str, new: str) -> Requests:
        """Before the first step of stage ``new`` (``ctx`` still describes ``old``)."""

    def on_eval(self, ctx: HookContext, record: dict) -> Requests:
        """After an evaluation during training; ``record`` is the line written to metrics.jsonl."""

    def after_train(self, ctx: HookContext) -> Requests:
        """When the loop ends, at the last step or after Ctrl-C."""
