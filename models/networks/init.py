"""Weight initialisation shared by G, D and F.

CUT (Park et al., ECCV 2020) trains every network from Xavier-normal weights with
gain 0.02 and zero biases; the small gain keeps the early residual blocks close to
the identity, which the PatchNCE loss relies on in the first iterations.
"""
from __future__ import annotations

from torch import nn

# Convolutions (incl. transposed) and linear layers are the only parametrised layers
# we initialise; instance norm here has no affine parameters.
_INIT_TYPES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """Xavier-normal init (``gain``) for every conv/linear weight in ``module``, zero bias.

    Returns ``module`` so it can wrap a constructor call.
    """
    for m in module.modules():
        if isinstance(m, _INIT_TYPES):
            nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module
