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

Two options for thin structures (issue 23), both off by default (the reference's G):
``n_downsampling=1`` keeps the residual trunk at half resolution (no ``down2`` role), and ``skip`` adds
U-Net-style connections (Ronneberger et al., MICCAI 2015) from each encoder stage to the decoder stage at the
same resolution, either added to the decoder's activation or concatenated with it.

One for clean backgrounds, off by default: ``mask`` (model.g_mask) gives the output conv one more channel, a
mask m = sigmoid(logit), and G returns m·tanh(content) + (1 - m)·x, so what G leaves unmasked is the input
itself (attention-guided translation: Mejjati et al., NeurIPS 2018; Tang et al., AttentionGAN, TNNLS 2021).
With ``mask_guide`` (model.g_mask_guide) m's logit is guided-filtered with the input as guide (guided_filter.py)
when G translates (eval mode), and in training too with ``mask_guide_train`` (``blend_guide``).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from translate.models.networks.blur import Downsample, Upsample
from translate.models.networks.guided_filter import guided_filter
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


SKIPS = ("none", "add", "concat")  # model.g_skip: encoder -> decoder connections


def content_and_mask(logits: torch.Tensor, x: torch.Tensor | None = None,
                     guide: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(tanh(content), m) from a masked G's output logits (B, C + 1, H, W): C content channels, then the mask's.
    With ``guide`` > 0 (model.g_mask_guide) the mask's logit is guided-filtered with radius ``guide`` px, the
    input ``x`` as guide, before the sigmoid."""
    content, logit = torch.tanh(logits[:, :-1]), logits[:, -1:]
    if guide:
        logit = guided_filter(x, logit, guide)
    return content, torch.sigmoid(logit)


def masked_output(logits: torch.Tensor, x: torch.Tensor, guide: int = 0) -> torch.Tensor:
    """m·tanh(content) + (1 - m)·x from a masked G's output logits (``content_and_mask``, ``guide`` as there):
    where m is 0 the output is the input x (B, C, H, W) exactly."""
    content, m = content_and_mask(logits, x, guide)
    return m * content + (1.0 - m) * x


def blend_guide(G: nn.Module) -> int:
    """The guided-filter radius a masked G blends with now: its ``mask_guide`` when it translates (eval mode);
    in training only with ``mask_guide_train`` (trained with the filter, G widens its mask: quality.md)."""
    return G.mask_guide if G.mask_guide_train or not G.training else 0


class ResnetGenerator(nn.Module):
    """Image translator G: (B, in_ch, H, W) in [-1, 1] -> (B, out_ch, H, W) in [-1, 1].

    H and W must be multiples of ``multiple`` (= 2**n_downsampling) for the output
    to have exactly the input's size; other sizes are rounded up by each down stage.
    """

    multiple: int = 4  # input H, W must be divisible by this for an exact-size output (2**n_downsampling)

    def __init__(
        self,
        in_ch: int = 3,  # channels of the input image
        out_ch: int = 3,  # channels of the output image
        ngf: int = 64,  # channels after the first conv; the residual trunk uses 4*ngf
        n_blocks: int = 9,  # residual blocks; 0 gives a plain encoder-decoder
        antialias: bool = True,  # blur-pool downsampling; False uses stride-2 convs
        antialias_up: bool = True,  # blur upsampling + conv; False uses ConvTranspose2d
        init_gain: float = 0.02,  # Xavier-normal gain for conv weights
        n_downsampling: int = 2,  # stride-2 stages before the trunk: 2 (reference) or 1 (trunk at half size)
        skip: str = "none",  # encoder -> decoder connections: none, add or concat (U-Net style)
        mask: bool = False,  # blend with the input by a predicted mask: m·G(x) + (1 - m)·x (needs in_ch == out_ch)
        mask_guide: int = 0,  # with mask: guided-filter radius (px) that snaps m's logit to the input's edges; 0 = off
        mask_guide_train: bool = False,  # filter the mask in training too, not only when translating
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        if n_downsampling not in (1, 2):
            raise ValueError(f"n_downsampling must be 1 or 2, got {n_downsampling}")
        if skip not in SKIPS:
            raise ValueError(f"skip must be one of {SKIPS}, got {skip!r}")
        if mask and in_ch != out_ch:
            raise ValueError(f"a masked G blends its output with its input: in_ch {in_ch} must equal out_ch {out_ch}")
        self.in_ch, self.ngf, self.n_blocks = in_ch, ngf, n_blocks
        if mask_guide and not mask:
            raise ValueError("mask_guide filters the mask: it needs mask=True")
        self.n_downsampling, self.skip, self.mask, self.mask_guide = n_downsampling, skip, mask, mask_guide
        self.mask_guide_train = mask_guide_train
        self.multiple = 2**n_downsampling
        trunk = ngf * 2**n_downsampling
        # Names of the encoder steps double as roles; only those in `roles` are exposed.
        steps: list[tuple[str, nn.Module]] = [
            ("input", nn.ReflectionPad2d(3)),
            ("stem", nn.Sequential(nn.Conv2d(in_ch, ngf, kernel_size=7, bias=True), _norm(ngf), nn.ReLU(True))),
        ]
        for i in range(1, n_downsampling + 1):
            conv, rest = _down_stage(ngf * 2 ** (i - 1), ngf * 2**i, antialias)
            steps += [(f"down{i}", conv), (f"down{i}_post", rest)]
        steps += [(f"block{i}", ResnetBlock(trunk)) for i in range(1, n_blocks + 1)]
        self.encoder = nn.Sequential(OrderedDict(steps))
        # The encoder steps whose outputs feed the decoder, deepest first: the decoder stage i (0-based) works at
        # the resolution of skip_from[i]. With concat, each later stage takes twice its usual channels.
        self.skip_from = tuple(f"down{i}_post" for i in range(n_downsampling - 1, 0, -1)) + ("stem",)
        wide = 2 if skip == "concat" else 1
        ups = [_up_stage(trunk // 2**i * (wide if i else 1), trunk // 2 ** (i + 1), antialias_up)
               for i in range(n_downsampling)]
        self.decoder = nn.Sequential(
            *ups,
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf * wide, out_ch + mask, kernel_size=7, bias=True),
            *([] if mask else [nn.Tanh()]),  # a masked G's tanh and blend are in forward (masked_output)
        )
        self.roles: tuple[str, ...] = ("input",) + tuple(f"down{i}" for i in range(1, n_downsampling + 1)) + tuple(
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
        return [by_role.get(name, self.ngf * 2**self.n_downsampling) for name in layers]

    def _run_encoder(
        self, x: torch.Tensor, layers: Sequence[str], stop_early: bool, skips: dict | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The encoder up to the deepest of ``layers`` (or all of it); ``skips``, when given, collects the
        outputs of the steps the decoder's skip connections read."""
        self._check_layers(layers)
        wanted = set(layers)
        found: dict[str, torch.Tensor] = {}
        for name, step in self.encoder.named_children():
            x = step(x)
            if name in wanted:
                found[name] = x
                if stop_early and len(found) == len(wanted):
                    break
            if skips is not None and name in self.skip_from:
                skips[name] = x
        return x, [found[name] for name in layers]

    def _decode(self, h: torch.Tensor, skips: dict) -> torch.Tensor:
        if self.skip == "none":
            return self.decoder(h)
        for i, name in enumerate(self.skip_from):
            h = self.decoder[i](h)
            h = h + skips[name] if self.skip == "add" else torch.cat([h, skips[name]], dim=1)
        return self.decoder[len(self.skip_from):](h)

    def translation_mask(self, x: torch.Tensor) -> torch.Tensor:
        """The mask m (B, 1, H, W) with which a masked G blends its translation of ``x`` with ``x``."""
        if not self.mask:
            raise ValueError("this G has no mask (model.g_mask is false)")
        skips: dict[str, torch.Tensor] | None = None if self.skip == "none" else {}
        h, _ = self._run_encoder(x, (), stop_early=False, skips=skips)
        return content_and_mask(self._decode(h, skips), x, blend_guide(self))[1]

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
        skips: dict[str, torch.Tensor] | None = None if self.skip == "none" else {}
        h, feats = self._run_encoder(x, layers or (), stop_early=False, skips=skips)
        y = self._decode(h, skips)
        if self.mask:
            y = masked_output(y, x, blend_guide(self))
        return y if layers is None else (y, feats)
