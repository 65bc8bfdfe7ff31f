"""Langevin revision of samples under an energy, as in cooperative learning (CoopNets, Xie et al., TPAMI 2018;
CycleCoopNets, AAAI 2021) and the CoopInit stage (Zhao, Xie, Li; AAAI 2023).

    y_{t+1} = clamp(y_t - (δ²/2)·∇E(y_t) + η·δ·ε_t, -1, 1),    E(y) = ‖y‖²/(2σ²) - f(y)

Samples are tensors (B, ...): images (B, C, H, W) in [-1, 1], or points (B, D) such as the 2-D mixtures of
benchmarks/coopinit_toy2d.py, which pass ``bounds=None`` (no clamp). ``energy`` returns one energy per sample,
(B,). With ``normalize=True`` the drift is rescaled per sample to a root-mean-square of δ per coordinate and
step (y_{t+1} = y_t - δ·g/rms(g) + η·δ·ε), so one setting transfers across resolutions and network output
scales; the unnormalised form needs δ tuned to the gradient's magnitude.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor


@dataclass
class LangevinResult:
    revised: Tensor  # (B, ...) like y0, within ``bounds``, detached
    # pixel_change (mean |y_T - y_0|), energy_before, energy_after (batch means), at_bounds (share of elements
    # of y_T on a bound: revisions that pile up at the range's edge, as benchmarks/coopinit_toy2d.py found)
    diagnostics: dict[str, float]


def gaussian_reference_energy(y: Tensor, sigma: float | None) -> Tensor:
    """‖y‖²/(2σ²) per sample, the energy of the reference N(0, σ²I); zero when ``sigma`` is None."""
    if sigma is None:
        return y.new_zeros(y.shape[0])
    return y.flatten(1).pow(2).sum(1) / (2.0 * sigma**2)


def langevin_revise(
    energy: Callable[[Tensor], Tensor],  # (B, ...) -> (B,) energy per sample, lower is more likely
    y0: Tensor,  # starting samples (B, ...), e.g. the translator's outputs (B, C, H, W) in [-1, 1]
    steps: int,  # T, number of Langevin steps (0 returns y0 unchanged)
    step_size: float,  # δ; with normalize=True the RMS pixel move per step
    noise: float = 0.0,  # η, scale of the injected noise η·δ·ε (0 = deterministic gradient descent)
    sigma: float | None = None,  # σ of the Gaussian reference term ‖y‖²/(2σ²); None leaves it out
    normalize: bool = False,  # rescale each sample's gradient to unit RMS before the step
    generator: torch.Generator | None = None,  # source of ε; None uses the global RNG
    bounds: tuple[float, float] | None = (-1.0, 1.0),  # clamp after every step (images); None = unbounded
) -> LangevinResult:
    """Revise ``y0`` by T Langevin steps under ``energy + reference``; only y gets gradients, never the net."""
    if steps < 0 or step_size < 0 or noise < 0:
        raise ValueError(f"need steps, step_size, noise >= 0, got {steps}, {step_size}, {noise}")

    def total(y: Tensor) -> Tensor:
        return energy(y) + gaussian_reference_energy(y, sigma)

    y0 = y0.detach()
    y = y0.clone()
    with torch.enable_grad():
        e_before = float(total(y0).mean()) if steps == 0 else None
        for _ in range(steps):
            y.requires_grad_(True)
            e = total(y)
            if e_before is None:
                e_before = float(e.detach().mean())
            if e.requires_grad:
                (grad,) = torch.autograd.grad(e.sum(), y)
            else:  # an energy that ignores y (e.g. the reference alone with sigma=None)
                grad = torch.zeros_like(y)
            if normalize:
                rms = grad.flatten(1).pow(2).mean(1).sqrt().clamp_min(1e-12).view(-1, *[1] * (y.dim() - 1))
                drift = step_size * grad / rms
            else:
                drift = 0.5 * step_size**2 * grad
            y = y.detach() - drift
            if noise > 0:
                y = y + noise * step_size * torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
            if bounds is not None:
                y = y.clamp(*bounds)
        e_after = float(total(y.detach()).mean())
    y = y.detach()
    at_bounds = 0.0 if bounds is None else float(((y <= bounds[0]) | (y >= bounds[1])).float().mean())
    diagnostics = {"pixel_change": float((y - y0).abs().mean()), "energy_before": e_before, "energy_after": e_after,
                   "at_bounds": at_bounds}
    return LangevinResult(y, diagnostics)
