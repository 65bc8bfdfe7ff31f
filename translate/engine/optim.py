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
    """One Adam per phase of ``model`` (e.g. D and G+F for CUT).

    ``fused=True``: one kernel updates all of a phase's parameters. On CPU (torch 2.14) the default
    per-parameter loop costs 3-4x as long (benchmarks/profile_step.py: about a tenth of a 64 px CUT step);
    the update is the same Adam, the weights agree to 1e-8 after 30 steps, and the state dict has the same
    keys, so checkpoints load either way. MPS and other devices without a fused kernel keep the loop.
    """
    return {phase: torch.optim.Adam(model.phase_parameters(phase), lr=lr, betas=betas,
                                    fused=_fused_supported(model.phase_parameters(phase)))
            for phase in model.phases}


def _fused_supported(params: list[torch.nn.Parameter]) -> bool | None:
    """True where torch has a fused Adam for every parameter's device and dtype; None lets torch choose."""
    ok = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float16, torch.bfloat16)
             for p in params)
    return True if ok and params else None


def set_lr(optimizers: dict[str, torch.optim.Optimizer], lr: float) -> None:
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = lr
