"""Exponential moving average of G's weights, used by apply, eval and the demo when present."""
from __future__ import annotations

import copy

import torch
from torch import nn


def build_ema(G: nn.Module) -> nn.Module:
    ema = copy.deepcopy(G).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, G: nn.Module, decay: float) -> None:
    for p_ema, p in zip(ema.parameters(), G.parameters()):
        p_ema.lerp_(p.detach(), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), G.buffers()):
        b_ema.copy_(b)
