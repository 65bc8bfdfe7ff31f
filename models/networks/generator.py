"""ResNet generator G of CUT/FastCUT, with encoder features addressable by role.

Park, Efros, Zhang, Zhu, "Contrastive Learning for Unpaired Image-to-Image
Translation" (ECCV 2020). The layout follows Johnson et al.'s ResNet translator as
used by CycleGAN/CUT: reflect-pad, 7x7 conv, two downsampling stages, residual blocks
at 4*ngf, two upsampling stages, 7x7 conv, tanh. Anti-aliased resampling (Zhang,
ICML 2019) is on by default, as in the CUT reference code.

PatchNCE needs intermediate encoder activations. The reference addresses them by
index into one flat ``nn.Sequential``, and the indices shift when anti-aliasing is
switched off. Here they are named by role instead:

- ``input``: the reflect-padded image (B, in_ch, H+6, W+6);
- ``down1``, ``down2``: the first/second downsampling conv, before its norm;
- ``block1`` .. ``blockN``: the output of each residual block.

With anti-aliasing on, ``input, down1, down2, block1, block5`` are the reference's
layers 0, 4, 8, 12, 16.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from translate.models.networks.blur import Downsample, Upsample
from translate.models.networks.init import init_weights
from translate.models.networks.norm import InstanceNorm


def _norm(channels: int) -> nn.Module:
    # Instance norm without affine parameters or running statistics, as in CUT.
    return InstanceNorm(channels)


class ResnetBlock(nn.Module):
    """x + (pad, conv3x3, IN, ReLU, pad, conv3x3, IN)(x); shape-preserving."""

    def __init__(self, dim: int) -> None:  # dim: channels in and out
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=True),
            _norm(dim),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=True),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _down_stage(c_in: int, c_out: int, antialias: bool) -> tuple[nn.Module, nn.Module]:
    """(conv, rest) of one downsampling stage; the conv's output is the NCE feature."""
    if antialias:
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=True)
        rest = nn.Sequential(_norm(c_out), nn.ReLU(inplace=True), Downsample(c_out))
    else:
        conv = nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=True)
        rest = nn.Sequential(_norm(c_out), nn.ReLU(inplace=True))
    return conv, rest


def _up_stage(c_in: int, c_out: int, antialias: bool) -> nn.Module:
    if antialias:
        return nn.Sequential(
            Upsample(c_in),
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1, bias=True),
            _norm(c_out),
            nn.ReLU(inplace=True),
        )
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True),
        _norm(c_out),
        nn.ReLU(inplace=True),
    )


class ResnetGenerator(nn.Module):
    """Image translator G: (B, in_ch, H, W) in [-1, 1] -> (B, out_ch, H, W) in [-1, 1].

    H and W must be multiples of ``multiple`` (= 4, two stride-2 stages) for the output
    to have exactly the input's size; other sizes are rounded up by each down stage.
    """

    multiple: int = 4  # input H, W must be divisible by this for an exact-size output

    def __init__(
        self,
        in_ch: int = 3,  # channels of the input image
        out_ch: int = 3,  # channels of the output image
        ngf: int = 64,  # channels after the first conv; the residual trunk uses 4*ngf
        n_blocks: int = 9,  # residual blocks; 0 gives a plain encoder-decoder
        antialias: bool = True,  # blur-pool downsampling; False uses stride-2 convs
        antialias_up: bool = True,  # blur upsampling + conv; False uses ConvTranspose2d
        init_gain: float = 0.02,  # Xavier-normal gain for conv weights
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        self.in_ch, self.ngf, self.n_blocks = in_ch, ngf, n_blocks
        # Names of the encoder steps double as roles; only those in `roles` are exposed.
        steps: list[tuple[str, nn.Module]] = [
            ("input", nn.ReflectionPad2d(3)),
            ("stem", nn.Sequential(nn.Conv2d(in_ch, ngf, kernel_size=7, bias=True), _norm(ngf), nn.ReLU(True))),
        ]
        for i in (1, 2):
            conv, rest = _down_stage(ngf * 2 ** (i - 1), ngf * 2**i, antialias)
            steps += [(f"down{i}", conv), (f"down{i}_post", rest)]
        steps += [(f"block{i}", ResnetBlock(4 * ngf)) for i in range(1, n_blocks + 1)]
        self.encoder = nn.Sequential(OrderedDict(steps))
        self.decoder = nn.Sequential(
            _up_stage(4 * ngf, 2 * ngf, antialias_up),
            _up_stage(2 * ngf, ngf, antialias_up),
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_ch, kernel_size=7, bias=True),
            nn.Tanh(),
        )
        self.roles: tuple[str, ...] = ("input", "down1", "down2") + tuple(
            f"block{i}" for i in range(1, n_blocks + 1)
        )
        init_weights(self, init_gain)

    def _check_layers(self, layers: Sequence[str]) -> None:
        unknown = [name for name in layers if name not in self.roles]
        if unknown:
            raise ValueError(f"unknown generator layer(s) {unknown}; valid roles are {list(self.roles)}")

    def feature_channels(self, layers: Sequence[str]) -> list[int]:
        """Channel count of each requested role's feature map, without running G."""
        self._check_layers(layers)
        by_role = {"input": self.in_ch, "down1": 2 * self.ngf, "down2": 4 * self.ngf}
        return [by_role.get(name, 4 * self.ngf) for name in layers]

    def _run_encoder(
        self, x: torch.Tensor, layers: Sequence[str], stop_early: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self._check_layers(layers)
        wanted = set(layers)
        found: dict[str, torch.Tensor] = {}
        for name, step in self.encoder.named_children():
            x = step(x)
            if name in wanted:
                found[name] = x
                if stop_early and len(found) == len(wanted):
                    break
        return x, [found[name] for name in layers]

    def encode(self, x: torch.Tensor, layers: Sequence[str]) -> list[torch.Tensor]:
        """Features at ``layers`` (in the order given), running only as deep as needed."""
        if not layers:
            return []
        return self._run_encoder(x, layers, stop_early=True)[1]

    def forward(
        self, x: torch.Tensor, layers: Sequence[str] | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Translate ``x``; with ``layers``, also return those features from the same pass.

        The features are the live activations (not detached); callers that use them as
        PatchNCE keys detach them, which is cheaper than re-encoding the input.
        """
        h, feats = self._run_encoder(x, layers or (), stop_early=False)
        y = self.decoder(h)
        return y if layers is None else (y, feats)
