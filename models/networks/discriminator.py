"""PatchGAN discriminator D of CUT/FastCUT.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks"
(CVPR 2017) introduced the 70x70 PatchGAN; Park et al., "Contrastive Learning for
Unpaired Image-to-Image Translation" (ECCV 2020) use it with instance norm and
anti-aliased striding (Zhang, ICML 2019). D scores overlapping patches, so it works on
any input size and returns a (B, 1, h, w) map of logits, one per patch.

Options of issue 23, off by default: spectral normalisation of every conv's weight (Miyato et al., ICLR 2018),
and :class:`MultiScaleDiscriminator`, the same PatchGAN applied to the image at 1, 1/2, 1/4 ... resolution
(Wang et al., pix2pixHD, CVPR 2018).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from translate.models.networks.blur import Downsample
from translate.models.networks.init import init_weights
from translate.models.networks.norm import InstanceNorm
from translate.models.precision import fp32, wants_fp32

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
        spectral_norm: bool = False,  # spectral normalisation of every conv weight (Miyato et al., 2018)
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
        if spectral_norm:
            for conv in [m for m in self.modules() if isinstance(m, nn.Conv2d)]:
                nn.utils.parametrizations.spectral_norm(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not wants_fp32("gan"):
            return self.model(x)
        h = self.model[:-1](x)
        with fp32("gan", x.device.type):  # the GAN logits in fp32 under autocast (models/precision.py)
            return self.gan_head(h.float())

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """D's patch-score maps, one per scale (a single-scale D has one): the GAN losses average over them."""
        return [self.model(x)]

    @property
    def gan_head(self) -> nn.Conv2d:
        """The last conv of forward's stack: the GAN head (switch=calibrate rescales it)."""
        return self.model[-1]

    @property
    def gan_heads(self) -> list[nn.Conv2d]:
        """Every GAN head (one per scale)."""
        return [self.gan_head]

    def ebm_scores(self, x: torch.Tensor) -> torch.Tensor:
        """The EBM head's patch scores, (B, 1, h, w); without an EBM head, the GAN head's (forward)."""
        if self.ebm_head is None:
            return self.model(x)
        return self.ebm_head(self.model[:-1](x))


def downscale(x: torch.Tensor) -> torch.Tensor:
    """Half resolution (rounded up) by a 3x3 average, as pix2pixHD's multi-scale D."""
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


class MultiScaleDiscriminator(nn.Module):
    """``n_scales`` PatchGANs, the k-th judging the image downscaled k times (pix2pixHD, Wang et al. 2018).

    ``maps(x)`` returns the per-scale maps (the GAN losses average their losses over scales). ``forward`` and
    ``ebm_scores`` return every scale's patch scores flattened into one (B, 1, 1, N) map, so that whatever
    reads D as one map of patch scores (CoopInit's energy f(y) = the sum of patch scores, the calibration, the
    test-time refiner) sees all scales: the EBM's f(y) sums over scales.
    """

    def __init__(self, n_scales: int = 2, **kw) -> None:  # kw: PatchDiscriminator's arguments
        super().__init__()
        if n_scales < 1:
            raise ValueError(f"n_scales must be >= 1, got {n_scales}")
        self.scales = nn.ModuleList(PatchDiscriminator(**kw) for _ in range(n_scales))

    def _per_scale(self, x: torch.Tensor, score) -> list[torch.Tensor]:
        out = []
        for i, d in enumerate(self.scales):
            out.append(score(d, x))
            if i + 1 < len(self.scales):
                x = downscale(x)
        return out

    @staticmethod
    def _pack(maps: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([m.flatten(2) for m in maps], dim=2).unsqueeze(2)

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self._per_scale(x, lambda d, y: d(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pack(self.maps(x))

    def ebm_scores(self, x: torch.Tensor) -> torch.Tensor:
        return self._pack(self._per_scale(x, lambda d, y: d.ebm_scores(y)))

    @property
    def gan_heads(self) -> list[nn.Conv2d]:
        return [d.gan_head for d in self.scales]
