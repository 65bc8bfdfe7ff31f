"""PatchGAN discriminator D of CUT/FastCUT.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR 2017) introduced the 70x70 PatchGAN; Park et al., "Contrastive Learning for
Unpaired Image-to-Image Translation" (ECCV 2020) use it with instance norm and
anti-aliased striding (Zhang, ICML 2019). D scores overlapping patches, so it works on
any input size and returns a (B, 1, h, w) map of logits, one per patch.
"""
from __future__ import annotations

import torch
from torch import nn

from translate.models.networks.blur import Downsample
from translate.models.networks.init import init_weights
from translate.models.networks.norm import InstanceNorm

_KERNEL, _PAD = 4, 1


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


def _strided(c_in: int, c_out: int, antialias: bool, norm: bool) -> list[nn.Module]:
    """A 4x4 conv that halves the resolution, either by stride or by blur-pool after it."""
    conv = nn.Conv2d(c_in, c_out, _KERNEL, stride=1 if antialias else 2, padding=_PAD)
    layers = [conv] + ([InstanceNorm(c_out)] if norm else []) + [_lrelu()]
    return layers + ([Downsample(c_out)] if antialias else [])


class PatchDiscriminator(nn.Module):
    """NLayerDiscriminator from the CUT reference: (B, in_ch, H, W) -> (B, 1, h, w).

    With n_layers=3 a 256x256 input gives a 30x30 map (either setting), each cell
    seeing roughly a 70x70 patch.
    """

    def __init__(
        self,
        in_ch: int = 3,  # channels of the image being judged
        ndf: int = 64,  # channels of the first conv; doubled per stride, capped at 8*ndf
        n_layers: int = 3,  # number of resolution-halving convs (3 gives the 70x70 PatchGAN)
        antialias: bool = True,  # stride-1 conv + blur-pool instead of stride-2 convs
        init_gain: float = 0.02,  # Xavier-normal gain for conv weights
        ebm_head: bool = False,  # a second last conv on the same trunk, for CoopInit's EBM (ebm_scores)
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        # No norm on the first conv, as in pix2pix/DCGAN, where normalising the input
        # layer made adversarial training unstable.
        layers = _strided(in_ch, ndf, antialias, norm=False)
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += _strided(ndf * prev, ndf * mult, antialias, norm=True)
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(ndf * prev, ndf * mult, _KERNEL, stride=1, padding=_PAD),
            InstanceNorm(ndf * mult),
            _lrelu(),
            nn.Conv2d(ndf * mult, 1, _KERNEL, stride=1, padding=_PAD),
        ]
        self.model = nn.Sequential(*layers)
        # Split heads: the cooperative stage trains trunk + ebm_head as the EBM, CUT trains trunk + the last conv
        # of self.model, so the GAN head starts at the switch from its initialisation, not at the EBM's scale.
        self.ebm_head = nn.Conv2d(ndf * mult, 1, _KERNEL, stride=1, padding=_PAD) if ebm_head else None
        init_weights(self, init_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @property
    def gan_head(self) -> nn.Conv2d:
        """The last conv of forward's stack: the GAN head (switch=calibrate rescales it)."""
        return self.model[-1]

    def ebm_scores(self, x: torch.Tensor) -> torch.Tensor:
        """The EBM head's patch scores, (B, 1, h, w); without an EBM head, the GAN head's (forward)."""
        if self.ebm_head is None:
            return self.model(x)
        return self.ebm_head(self.model[:-1](x))
