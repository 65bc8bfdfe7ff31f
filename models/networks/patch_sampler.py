"""Patch sampler and projection head F of CUT/FastCUT.

Park et al., "Contrastive Learning for Unpaired Image-to-Image Translation" (ECCV
2020): PatchNCE compares G's encoder features at the same spatial locations of the
input and the output. F picks those locations and projects each feature vector through
a per-layer two-layer MLP onto the unit sphere (as in SimCLR).

Unlike the reference, the MLPs are built in the constructor from the known channel
counts (``ResnetGenerator.feature_channels``), so F's parameters exist before the first
batch and the optimiser can be created up front.

Option (issue 23, ``model.patch_select: qs``): query-selected attention, global form (Hu et al., "QS-Attn",
CVPR 2022). On the layers marked in ``qs_layers`` (the trunk's, where the paper applies it), the global attention
A = softmax(f fᵀ) of the *source* features picks, per image, the P locations whose attention rows have the
lowest entropy, and each sample is the attention-weighted sum A_i f of the features instead of one location's
feature; the same rows route the target's features, so queries and keys stay aligned.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from translate.models.networks.init import init_weights

_EPS = 1e-7  # added to the norm, as in the reference Normalize layer


def qs_attention(feat: torch.Tensor, num_patches: int) -> torch.Tensor:
    """QS-Attn's selected rows: (B, C, H, W) -> (B, P, H*W), the rows of softmax(f fᵀ) with the lowest entropy."""
    f = feat.detach().float().flatten(2).transpose(1, 2)  # (B, HW, C)
    log_attn = torch.log_softmax(f @ f.transpose(1, 2), dim=2)  # (B, HW, HW)
    attn = log_attn.exp()
    entropy = -(attn * log_attn).sum(2)  # (B, HW)
    rows = entropy.argsort(dim=1)[:, : min(num_patches, f.shape[1])]  # (B, P), most concentrated first
    return attn.gather(1, rows[..., None].expand(-1, -1, attn.shape[2]))


def l2_normalize(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """x / (||x||_2 + 1e-7) along ``dim``, computed in fp32: F's outputs start near 1e-4, and their squares
    underflow in fp16 (CPU autocast runs pow and sum in fp16), which would make PatchNCE NaN."""
    x = x.float()
    return x / (x.pow(2).sum(dim, keepdim=True).sqrt() + _EPS)


class PatchSampler(nn.Module):
    """F: a list of (B, C_l, H_l, W_l) feature maps -> a list of unit-norm patch embeddings."""

    def __init__(
        self,
        in_channels: Sequence[int],  # channels of each NCE layer's feature map, in order
        nc: int = 256,  # embedding size of every MLP's hidden and output layer
        init_gain: float = 0.02,  # Xavier-normal gain for the MLP weights
        qs_layers: Sequence[bool] | None = None,  # per layer: QS-Attn selection instead of random locations
    ) -> None:
        super().__init__()
        self.nc = nc
        self.qs_layers = list(qs_layers) if qs_layers is not None else [False] * len(in_channels)
        if len(self.qs_layers) != len(in_channels):
            raise ValueError(f"qs_layers has {len(self.qs_layers)} entries for {len(in_channels)} layers")
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, nc), nn.ReLU(inplace=True), nn.Linear(nc, nc)) for c in in_channels
        )
        init_weights(self, init_gain)

    def forward(
        self,
        feats: Sequence[torch.Tensor],
        num_patches: int,
        patch_ids: Sequence[torch.Tensor] | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Sample, project and normalise patches of each feature map.

        Args:
            feats: one (B, C_l, H_l, W_l) map per layer, matching ``in_channels``.
            num_patches: locations per layer (capped at H_l*W_l); 0 means every location.
            patch_ids: flat location indices per layer from an earlier call, so that
                keys and queries are taken at the same places; None draws new ones.
                On a QS layer, the (B, P, H*W) attention rows instead.

        Returns:
            samples: per layer, (B*P, nc) rows ordered image by image, or (B, H*W, nc)
                when ``num_patches`` is 0; each row has unit L2 norm.
            patch_ids: per layer, the (P,) indices used (shared by all images), or on a QS layer
                the (B, P, H*W) attention rows (computed from the first call's features).
        """
        if len(feats) != len(self.mlps):
            raise ValueError(f"got {len(feats)} feature maps but F was built for {len(self.mlps)} layers")
        if num_patches < 0:
            raise ValueError(f"num_patches must be >= 0, got {num_patches}")
        samples, used_ids = [], []
        for i, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            B, C, H, W = feat.shape
            if self.qs_layers[i] and num_patches != 0:
                attn = qs_attention(feat, num_patches) if patch_ids is None else patch_ids[i]
                x = (attn.to(feat.dtype) @ feat.flatten(2).transpose(1, 2)).flatten(0, 1)  # (B*P, C)
                samples.append(l2_normalize(mlp(x), dim=-1))
                used_ids.append(attn)
                continue
            if num_patches == 0:
                ids = torch.arange(H * W, device=feat.device)
            elif patch_ids is not None:
                ids = patch_ids[i]
            else:
                ids = torch.randperm(H * W, device=feat.device)[: min(num_patches, H * W)]
            # Gather on the (B, C, H*W) layout, then transpose: the gradient sent back to G is then contiguous
            # NCHW. Permuting to (B, H*W, C) first would hand G a channels-last-strided gradient, for which
            # InstanceNorm's backward is wrong at batch 1 on CPU (PyTorch 2.14; tests/test_networks.py).
            x = feat.flatten(2)[:, :, ids].transpose(1, 2)  # (B, P, C)
            if num_patches != 0:
                x = x.flatten(0, 1)  # (B*P, C), image by image
            samples.append(l2_normalize(mlp(x), dim=-1))
            used_ids.append(ids)
        return samples, used_ids

    def forward_groups(
        self,
        feats: Sequence[torch.Tensor],
        num_patches: int,
        patch_ids: Sequence[Sequence[torch.Tensor]],
    ) -> list[list[torch.Tensor]]:
        """F on maps that stack groups of images on the batch axis (CUT: fake_b, then idt_b), group g at its own
        ids ``patch_ids[g]`` from an earlier call: per group, the samples that ``forward`` on its slice of the maps
        returns. One gather per layer for all groups: its backward writes the maps' gradient once, where slicing
        the groups first costs a zero-filled copy of every map per group (0.6 ms of a 254 ms CPU step at
        64 px, 1 thread; docs/benchmarks.md). QS layers and ``num_patches`` 0 take the slices."""
        groups = len(patch_ids)
        if num_patches == 0 or any(self.qs_layers):
            return [self.forward([f.tensor_split(groups)[g] for f in feats], num_patches, patch_ids[g])[0]
                    for g in range(groups)]
        samples: list[list[torch.Tensor]] = [[] for _ in range(groups)]
        for i, (feat, mlp) in enumerate(zip(feats, self.mlps)):
            B, C = feat.shape[:2]
            per_group = B // groups
            ids = torch.stack([p[i] for p in patch_ids]).repeat_interleave(per_group, dim=0)  # (B, P)
            # As forward: gathered on (B, C, H*W), then transposed, so each group's (b*P, C) rows are laid out
            # (and multiplied by the MLP) exactly as there.
            x = feat.flatten(2).gather(2, ids[:, None, :].expand(B, C, -1)).transpose(1, 2)  # (B, P, C)
            for g in range(groups):
                rows = x[g * per_group:(g + 1) * per_group].flatten(0, 1)
                samples[g].append(l2_normalize(mlp(rows), dim=-1))
        return samples
