"""PatchNCE loss of CUT/FastCUT.

Park et al., "Contrastive Learning for Unpaired Image-to-Image Translation" (ECCV
2020): each output patch (query) must pick the input patch at the same location
(positive key) out of the other locations of the same image (negatives), an InfoNCE
cross-entropy with temperature tau.

Option (issue 23, ``model.nce_hard_neg_beta``): hard negatives. As in HnegSRC (Jung et al., CVPR 2022) the
hardness of negative j for anchor i is the source's own patch relation ⟨k_i, k_j⟩ (detached); as in Robinson et
al. (ICLR 2021) it enters as an importance weight w_ij = (n-1)·softmax_j(β⟨k_i, k_j⟩) on exp(⟨q_i, k_j⟩/τ) in
the denominator, i.e. log w_ij is added to the negative logits. β = 0 gives w = 1: plain PatchNCE. (HnegSRC
itself multiplies the negative logits by a max-normalised weight and drops the positive from the denominator;
the importance-weight form keeps β = 0 exactly CUT's loss.)
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

# Logit for a query against its own key among the negatives. The positive already
# appears in column 0, so the diagonal is pushed to exp(-10/tau) ~ 0, as in the reference.
_DIAGONAL_LOGIT = -10.0


NEGATIVES = ("image", "batch")  # where a query's negatives come from: its own image, or every image in the batch


def _hard_negative_log_weights(k: torch.Tensor, mask: torch.Tensor, beta: float) -> torch.Tensor:
    """log w for each (anchor, negative) pair from the keys' relation k kᵀ ((..., n, D) -> (..., n, n)); masked
    pairs (an anchor with itself) get no weight and the others average to 1."""
    rel = (beta * (k @ k.transpose(-1, -2))).masked_fill(mask, float("-inf"))
    n_neg = rel.shape[-1] - 1
    return torch.log_softmax(rel, dim=-1) + math.log(n_neg)


def patchnce_loss(feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int, tau: float = 0.07,
                  negatives: str = "image", hard_neg_beta: float = 0.0) -> torch.Tensor:
    """Per-patch PatchNCE loss, shape (B*P,).

    Args:
        feat_q: (B*P, D) query embeddings (from G's output), rows ordered image by image.
        feat_k: (B*P, D) key embeddings at the same locations (from G's input); detached
            here so that no gradient flows through the keys.
        batch_size: B.
        tau: temperature.
        negatives: "image" (the CUT paper's choice at batch 1): the other locations of the same image;
            "batch": the other locations of every image in the batch, so that a query must also differ from
            the patches of *other inputs*. Same-image negatives do nothing to keep two inputs' outputs apart,
            which is what mode collapse is.
        hard_neg_beta: β of the hard-negative weights (module docstring); 0 = off.
    """
    if negatives not in NEGATIVES:
        raise ValueError(f"negatives: expected one of {NEGATIVES}, got {negatives!r}")
    if feat_q.shape != feat_k.shape or feat_q.dim() != 2:
        raise ValueError(f"feat_q {tuple(feat_q.shape)} and feat_k {tuple(feat_k.shape)} must both be (B*P, D)")
    n, dim = feat_q.shape
    if batch_size < 1 or n % batch_size:
        raise ValueError(f"{n} patches cannot be split into batch_size={batch_size} images")
    feat_k = feat_k.detach()
    l_pos = (feat_q * feat_k).sum(dim=1, keepdim=True)  # (B*P, 1)

    if negatives == "batch":
        l_neg = feat_q @ feat_k.t()  # (B*P, B*P): every key of the batch
        eye = torch.eye(n, dtype=torch.bool, device=feat_q.device)
        l_neg = l_neg.masked_fill(eye, _DIAGONAL_LOGIT) / tau
        if hard_neg_beta > 0:
            l_neg = l_neg + _hard_negative_log_weights(feat_k, eye, hard_neg_beta).masked_fill(eye, 0.0)
        logits = torch.cat([l_pos / tau, l_neg], dim=1)  # (B*P, 1+B*P)
        target = torch.zeros(n, dtype=torch.long, device=feat_q.device)
        return F.cross_entropy(logits, target, reduction="none")

    q = feat_q.view(batch_size, -1, dim)  # (B, P, D)
    k = feat_k.view(batch_size, -1, dim)  # (B, P, D)
    p = q.shape[1]
    l_neg = torch.bmm(q, k.transpose(1, 2))  # (B, P, P)
    eye = torch.eye(p, dtype=torch.bool, device=feat_q.device)[None]  # (1, P, P)
    l_neg = l_neg.masked_fill(eye, _DIAGONAL_LOGIT) / tau
    if hard_neg_beta > 0:
        l_neg = l_neg + _hard_negative_log_weights(k, eye, hard_neg_beta).masked_fill(eye, 0.0)
    logits = torch.cat([l_pos / tau, l_neg.view(n, p)], dim=1)  # (B*P, 1+P)
    target = torch.zeros(n, dtype=torch.long, device=feat_q.device)
    return F.cross_entropy(logits, target, reduction="none")


def multilayer_nce_loss(
    feats_q: Sequence[torch.Tensor], feats_k: Sequence[torch.Tensor], batch_size: int, tau: float = 0.07,
    negatives: str = "image", hard_neg_beta: float = 0.0,
) -> torch.Tensor:
    """Mean over layers of the mean per-patch PatchNCE loss (a scalar)."""
    if len(feats_q) != len(feats_k) or not feats_q:
        raise ValueError(
            f"need the same, non-zero number of query and key layers; got {len(feats_q)} and {len(feats_k)}"
        )
    per_layer = [patchnce_loss(q, k, batch_size, tau, negatives, hard_neg_beta).mean()
                 for q, k in zip(feats_q, feats_k)]
    return torch.stack(per_layer).mean()
