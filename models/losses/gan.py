"""Adversarial losses for D and G.

LSGAN (Mao et al., ICCV 2017) is CUT's default (Park et al., ECCV 2020); the vanilla
and non-saturating losses are from Goodfellow et al. (NeurIPS 2014), and hinge from
Lim & Ye (2017) / Miyato et al. (ICLR 2018). ``pred`` is D's raw output (logits, no
sigmoid), of any shape; every loss is averaged over all its elements.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from translate.config import GanMode, choices

GAN_MODES = choices(GanMode)  # model.gan_mode's Literal is the one list


def gan_loss(pred: torch.Tensor, target_is_real: bool, mode: str, for_discriminator: bool = True) -> torch.Tensor:
    """Scalar GAN loss of D's predictions against a real/fake target.

    D calls it with (pred_real, True) and (pred_fake, False); G with (pred_fake, True).
    ``for_discriminator`` matters only for hinge, whose generator loss is -mean(pred)
    rather than the margin loss.
    """
    if mode == "lsgan":
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        return F.mse_loss(pred, target)
    if mode == "vanilla":
        target = torch.ones_like(pred) if target_is_real else torch.zeros_like(pred)
        return F.binary_cross_entropy_with_logits(pred, target)
    if mode == "nonsaturating":
        # softplus(-x) = -log sigmoid(x): the non-saturating form of log(1 - D(G(z))).
        return F.softplus(-pred).mean() if target_is_real else F.softplus(pred).mean()
    if mode == "hinge":
        if not for_discriminator:
            if not target_is_real:
                raise ValueError("hinge generator loss only takes target_is_real=True")
            return -pred.mean()
        return F.relu(1.0 - pred).mean() if target_is_real else F.relu(1.0 + pred).mean()
    raise ValueError(f"unknown GAN mode {mode!r}; expected one of {list(GAN_MODES)}")
