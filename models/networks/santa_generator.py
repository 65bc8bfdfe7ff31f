"""G of SANTA: a ResNet translator whose decoder is conditioned on a domain variable d in [0, 1] by AdaIN.

Xie, Xu, Gong, Zhang, "Unpaired Image-to-Image Translation With Shortest Path Regularization" (CVPR 2023),
generator ``adain_resnet``: the encoder is CUT's ResNet G up to half of its residual blocks (instance norm); the
decoder holds the other blocks and the upsampling stages, each normalised by AdaIN (Huang & Belongie, ICCV 2017)
whose scale and shift come from a style vector s(d) = e_A + d·(e_B - e_A), e_A and e_B two learned embeddings.
d = 0 decodes back to domain A (reconstruction), d = 1 translates to domain B; values in between are the path
that SANTA's regulariser shortens.

``G(x)`` translates (d = 1), as every other translator here, so apply, eval, export and the demo use it as they
use CUT's G. ``encode_latent`` and ``decode`` expose the two halves for the SANTA objective.

``skip`` (model.g_skip) adds CUT's G's U-Net-style connections: each upsampling stage's output gets the encoder's
feature map of the same resolution added (``add``) or concatenated (``concat``). They bypass the latent h, so the
latent noise and the KL term act on h alone; ``encode_latent`` fills a dict with those maps for ``decode``.

``mask`` (model.g_mask) blends the output with the image that was encoded, as on CUT's G (``masked_output``):
``decode`` then needs that image as ``source``. With ``mask_input`` (model.santa.mask_input) the mask's logit
also gets a term read off that image at full resolution by a small conv head (two 3x3 convs, the last one
zero-initialised, so training starts from the plain masked G): the decoder's mask is a blob at the trunk's
resolution, the head could let its border follow the input's edges (on the demo task it did not help:
docs/experiments/quality.md, "A fifth round").
"""
from __future__ import annotations

import torch
from torch import nn

from translate.models.networks.blur import Upsample
from translate.models.networks.generator import ResnetGenerator, blend_guide, content_and_mask, masked_output
from translate.models.networks.init import init_weights
from translate.models.networks.norm import InstanceNorm


class AdaIN(nn.Module):
    """(1 + γ(s))·IN(x) + β(s), γ and β a linear map of the style s (B, style_dim)."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = InstanceNorm(channels)
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(style)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdaINResnetBlock(nn.Module):
    """x + (pad, conv3x3, AdaIN, ReLU, pad, conv3x3, AdaIN)(x)."""

    def __init__(self, dim: int, style_dim: int) -> None:
        super().__init__()
        self.pad1, self.conv1, self.norm1 = nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), AdaIN(dim, style_dim)
        self.pad2, self.conv2, self.norm2 = nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), AdaIN(dim, style_dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm1(self.conv1(self.pad1(x)), style))
        return x + self.norm2(self.conv2(self.pad2(h)), style)


class AdaINUp(nn.Module):
    """One upsampling stage: blur upsample + conv3x3 (or ConvTranspose), AdaIN, ReLU; also returns the conv output."""

    def __init__(self, c_in: int, c_out: int, antialias_up: bool, style_dim: int) -> None:
        super().__init__()
        if antialias_up:
            self.up = nn.Sequential(Upsample(c_in), nn.Conv2d(c_in, c_out, 3, padding=1))
        else:
            self.up = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
        self.norm = AdaIN(c_out, style_dim)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        conv = self.up(x)
        return torch.relu(self.norm(conv, style)), conv


class SantaGenerator(nn.Module):
    """(B, 3, H, W) -> (B, 3, H, W): encoder (CUT's, n_blocks // 2 blocks), then the d-conditioned decoder."""

    multiple: int = 4  # input H, W must be divisible by this (2**n_downsampling; set per instance)

    def __init__(self, in_ch: int = 3, out_ch: int = 3, ngf: int = 64, n_blocks: int = 9, antialias: bool = True,
                 antialias_up: bool = True, init_gain: float = 0.02, style_dim: int = 8,
                 n_downsampling: int = 2, skip: str = "none", mask: bool = False, mask_input: bool = False,
                 mask_guide: int = 0, mask_guide_train: bool = False) -> None:
        super().__init__()
        # n_downsampling as CUT's G: 2 (the paper's) or 1, the trunk at half resolution (thin structures survive)
        trunk = ngf * 2**n_downsampling
        # The encoder half: CUT's G with n_blocks // 2 blocks, decoder discarded; its roles name the NCE layers.
        half = ResnetGenerator(in_ch, out_ch, ngf, n_blocks // 2, antialias=antialias, antialias_up=antialias_up,
                               n_downsampling=n_downsampling, skip=skip)
        self.encoder, self.roles, self.multiple = half.encoder, half.roles, half.multiple
        self.skip, self.skip_from = skip, half.skip_from  # skip_from[i] feeds the output of upsampling stage i
        self.mask = mask  # decode blends its output with the encoded image by a predicted mask
        if mask_guide and not mask:
            raise ValueError("mask_guide filters the mask: it needs mask=True")
        # guided-filter radius (px) of the mask, the encoded image as guide (0 = off), in training too or only when
        # translating (blend_guide)
        self.mask_guide, self.mask_guide_train = mask_guide, mask_guide_train
        self._feature_channels = half.feature_channels
        self.blocks = nn.ModuleList(AdaINResnetBlock(trunk, style_dim) for _ in range(n_blocks - n_blocks // 2))
        wide = 2 if skip == "concat" else 1  # with concat, each later stage takes twice its usual channels
        self.ups = nn.ModuleList(AdaINUp(trunk // 2**i * (wide if i else 1), trunk // 2 ** (i + 1), antialias_up,
                                         style_dim) for i in range(n_downsampling))
        if mask and in_ch != out_ch:
            raise ValueError(f"a masked G blends its output with its input: in_ch {in_ch} must equal out_ch {out_ch}")
        self.out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf * wide, out_ch + mask, 7))
        self.domain_embedding = nn.Embedding(2, style_dim)  # e_A, e_B
        if mask_input and not mask:
            raise ValueError("mask_input reads the input into the mask's logit: it needs mask=True")
        # the input's term of the mask logit (model.santa.mask_input), None without
        self.mask_head = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(in_ch, ngf, 3), nn.ReLU(True),
                                       nn.ReflectionPad2d(1), nn.Conv2d(ngf, 1, 3)) if mask_input else None
        init_weights(self, init_gain)
        nn.init.xavier_normal_(self.domain_embedding.weight, gain=init_gain)
        if self.mask_head is not None:
            nn.init.zeros_(self.mask_head[-1].weight)
            nn.init.zeros_(self.mask_head[-1].bias)

    def feature_channels(self, layers) -> list[int]:
        return self._feature_channels(layers)

    def style(self, d: torch.Tensor) -> torch.Tensor:
        """s(d) = e_A + d·(e_B - e_A) for d of shape (B,)."""
        e = self.domain_embedding.weight
        return e[0] + d[:, None].to(e.dtype) * (e[1] - e[0])

    def encode_latent(self, x: torch.Tensor, skips: dict | None = None) -> torch.Tensor:
        """The latent h; with ``skips`` (a dict), also the encoder maps the skip connections read, by name."""
        if self.skip == "none" or skips is None:
            return self.encoder(x)
        for name, step in self.encoder.named_children():
            x = step(x)
            if name in self.skip_from:
                skips[name] = x
        return x

    def encode(self, x: torch.Tensor, layers) -> list[torch.Tensor]:
        """Encoder features by role (CUT's G's names), for PatchNCE-style uses."""
        found, wanted = {}, set(layers)
        for name, step in self.encoder.named_children():
            x = step(x)
            if name in wanted:
                found[name] = x
                if len(found) == len(wanted):
                    break
        return [found[name] for name in layers]

    def decode(self, h: torch.Tensor, d: torch.Tensor, with_path: bool = False, skips: dict | None = None,
               source: torch.Tensor | None = None, raw: bool = False):
        """The decoder at domain variable d (B,); with ``with_path`` also the features SANTA's path loss compares:
        the first decoder block, each upsampling conv and the output conv (before tanh). ``skips``: the maps
        ``encode_latent`` collected (required when the G has skip connections); ``source``: the encoded images
        (required when G is masked, unless ``raw``, and with a mask head unless ``raw`` and ``with_path``, whose
        features do not need it); ``raw``: return the output conv's logits (and the mask head's term), not the
        image."""
        if self.skip != "none" and skips is None:
            raise ValueError(f"this G has {self.skip} skip connections: pass the skips encode_latent collected")
        if self.mask and source is None and not (raw and (self.mask_head is None or with_path)):
            raise ValueError("this G is masked (model.g_mask): pass the encoded images as source")
        s = self.style(d)
        path = []
        for i, block in enumerate(self.blocks):
            h = block(h, s)
            if i == 0:
                path.append(h)
        for i, up in enumerate(self.ups):
            h, conv = up(h, s)
            path.append(conv)
            if self.skip == "add":
                h = h + skips[self.skip_from[i]]
            elif self.skip == "concat":
                h = torch.cat([h, skips[self.skip_from[i]]], dim=1)
        logits = self.out(h)
        path.append(logits)
        if self.mask_head is not None and source is not None:  # d-independent: the path features leave it out
            logits = torch.cat([logits[:, :-1], logits[:, -1:] + self.mask_head(source)], dim=1)
        if raw:
            y = logits
        else:
            y = masked_output(logits, source, blend_guide(self)) if self.mask else torch.tanh(logits)
        return (y, path) if with_path else y

    def translation_mask(self, x: torch.Tensor) -> torch.Tensor:
        """The mask m (B, 1, H, W) with which a masked G blends its translation of ``x`` (d = 1) with ``x``."""
        if not self.mask:
            raise ValueError("this G has no mask (model.g_mask is false)")
        skips: dict = {}
        h = self.encode_latent(x, skips)
        logits = self.decode(h, torch.ones(x.shape[0], device=x.device), skips=skips or None, source=x, raw=True)
        return content_and_mask(logits, x, blend_guide(self))[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate to domain B (d = 1)."""
        skips: dict = {}
        h = self.encode_latent(x, skips)
        return self.decode(h, torch.ones(x.shape[0], device=x.device), skips=skips or None, source=x)
