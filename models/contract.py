"""The stage-model contract: what the trainer may call on a model, written down as a ``typing.Protocol``.

A stage (translate/engine/stages.py) runs one :class:`TranslationModel` over a range of steps: CUTModel,
CoopModel, DWarmup and CalibratedCUT all conform. Per step the trainer calls ``forward`` once, then for each
phase ``phase_losses`` and optimises ``phase_parameters``. Members marked optional below may be absent; the
trainer looks them up in one place (:func:`optional_member`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@dataclass
class PhaseLosses:
    """What one phase returns: the terms the optimiser sums, and values that are only logged."""

    optimise: dict[str, Tensor] = field(default_factory=dict)  # summed and back-propagated
    logged: dict[str, Tensor] = field(default_factory=dict)  # logged beside them, never optimised

    def total(self) -> Tensor:
        return sum(self.optimise.values())

    def log_values(self) -> dict[str, float]:
        """Every term and log-only value as a float, under its own name (e.g. ``E/ml``, ``E/f_real``)."""
        return {k: float(v.detach()) for k, v in {**self.optimise, **self.logged}.items()}


@dataclass
class StageContext:
    """What a model's ``on_stage_start`` receives: the training device and the stage's fixed images."""

    device: torch.device  # where the networks live
    images: dict[str, Tensor] = field(default_factory=dict)  # e.g. {"a": (n,3,H,W), "b": ...}; CPU tensors


@runtime_checkable
class TranslationModel(Protocol):
    """The interface of a stage's model.

    Required: ``phases`` (e.g. ("D", "G") for CUT, ("E", "G") for CoopInit), ``phase_parameters(phase)``,
    ``forward(batch) -> StepOutputs`` (the shared forward, once per step; its ``logs`` field holds values
    only to log), ``phase_losses(phase, batch, out) -> PhaseLosses`` and ``translate(a)``.

    Optional (see OPTIONAL): ``on_stage_start(ctx: StageContext)``, run when the stage begins,
    ``sample_columns(a, G) -> list[Tensor]``, the columns of a sample grid (default: input | G(input)), and
    ``set_step(step: int)``, told the run's step before each forward (a weight that changes within a stage,
    the steps of lazy R1).
    """

    phases: tuple[str, ...]

    def phase_parameters(self, phase: str) -> list[nn.Parameter]: ...

    def forward(self, batch: dict): ...

    def phase_losses(self, phase: str, batch: dict, out) -> PhaseLosses: ...

    def translate(self, a: Tensor) -> Tensor: ...


OPTIONAL = ("on_stage_start", "sample_columns", "set_step")  # members a TranslationModel may leave out


def optional_member(model: TranslationModel, name: str) -> Callable | None:
    """The optional member ``name`` of ``model`` (one of OPTIONAL), or None when the model leaves it out."""
    if name not in OPTIONAL:
        raise AttributeError(f"{name!r} is not an optional member of TranslationModel (those are {OPTIONAL})")
    return getattr(model, name, None)
