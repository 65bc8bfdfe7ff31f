"""Maximum-likelihood loss of an energy-based model with an energy-magnitude regulariser.

CoopNets (Xie et al., TPAMI 2018) and CoopInit (Zhao, Xie, Li; AAAI 2023) train the EBM p(y) ∝ exp(f(y))
by raising f on data and lowering it on the model's (MCMC-revised) samples; the α term of IGEBM (Du and
Mordatch, NeurIPS 2019) keeps the magnitudes bounded:

    L_E = mean f(ỹ) - mean f(real) + α·(mean f(ỹ)² + mean f(real)²)

The generator learns from the revisions by MCMC teaching (CoopNets): it regresses its own output onto ỹ,
L_teach = λ_teach·mean (G(x) - ỹ)².
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def ebm_ml_loss(f_real: Tensor, f_revised: Tensor, alpha: float = 0.1) -> tuple[Tensor, Tensor]:
    """(contrastive term, regulariser) from f on real and revised images (any shapes; means are taken)."""
    contrastive = f_revised.mean() - f_real.mean()
    regulariser = alpha * (f_revised.pow(2).mean() + f_real.pow(2).mean())
    return contrastive, regulariser


def teach_loss(fake: Tensor, revised: Tensor, lambda_teach: float) -> Tensor:
    """λ_teach·mean (fake - ỹ)² over all elements: G's MCMC-teaching loss (``revised`` is detached)."""
    return lambda_teach * F.mse_loss(fake, revised)
