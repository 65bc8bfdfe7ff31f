"""Training stages inside one run. A stage is a TranslationModel (its phases and losses) over a range of steps.

CUT training is a single stage; CoopInit puts a cooperative stage in front, sharing G, F and D.
The stage a step belongs to is a pure function of the step, so a resume lands in the right one.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class Stage:
    name: str  # recorded in checkpoints and logs
    model: nn.Module  # a TranslationModel: phases, phase_parameters, forward, phase_losses
    start: int  # first step of the stage
    end: int  # the stage runs while start <= step < end


def build_stages(cfg, networks, total_steps: int) -> list[Stage]:
    """The stages of a run; ``networks`` is the CUTModel that owns G, D and F."""
    return [Stage("cut", networks, 0, total_steps)]


def stage_at(stages: list[Stage], step: int) -> Stage:
    for stage in stages:
        if stage.start <= step < stage.end:
            return stage
    return stages[-1]
