"""Optimisers (Adam per phase) and the constant-then-linear-decay learning-rate schedule of CUT/CycleGAN.

The schedule is a pure function of the step, so resuming needs no scheduler state.
"""
from __future__ import annotations

import torch


def lr_factor(step: int, total_steps: int, decay_steps: int, every: int = 1) -> float:
    """1 for the first ``total - decay`` steps, then linear to 0 at ``total`` (the reference's 'linear' policy).

    ``every`` > 1 changes the factor only once per ``every`` steps, as the reference does once per epoch.
    """
    if decay_steps <= 0:
        return 1.0
    start = total_steps - decay_steps
    # As the reference's 'linear' policy: the first decaying step (or epoch) already runs at 1 - 1/(decay + 1),
    # the last at 1/(decay + 1), so no step is wasted at a learning rate of zero.
    return 1.0 - max(0.0, step // every + 1 - start / every) / (decay_steps / every + 1)


def build_optimizers(model, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
    """One Adam per phase of ``model`` (e.g. D and G+F for CUT)."""
    return {phase: torch.optim.Adam(model.phase_parameters(phase), lr=lr, betas=betas) for phase in model.phases}


def set_lr(optimizers: dict[str, torch.optim.Optimizer], lr: float) -> None:
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = lr
