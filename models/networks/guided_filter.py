"""The guided filter (He, Sun, Tang, ECCV 2010; TPAMI 2013): a map filtered so that its edges follow an image's.

Within each (2r+1)² window the output is an affine function of the guide's colour, q = a·I + b, fitted to the
input map p by least squares (ridge ε on a); each pixel averages the fits of the windows that cover it. Where
the guide is flat q is p's local mean, and across the guide's edges q can step as sharply as the guide does.

A masked G (model.g_mask) predicts a smooth blob, a pixel or two wider than the objects it translates
(docs/experiments/quality.md, "A sixth round"); ``model.g_mask_guide`` filters that mask's logit with the input
image as guide, so the mask's border moves onto the objects' outlines (the deep guided filter of Wu et al.,
CVPR 2018, does this to a network's low-resolution output). Filtering the logit rather than the mask keeps the
mask open on objects whose colour is close to the background's (filtering the mask itself left them half open,
their texture faded: one seed, shape 0.838 against 0.864 at radius 6). The filter has no parameters and is
differentiable (model.g_mask_guide_train). The colour guide's 3×3 covariance is inverted in closed form (no
``linalg.solve``: the filter exports to ONNX) and in float32 whatever the autocast dtype.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn

EPS = 1e-4  # ridge on a, in [0, 1] intensity²: edges whose contrast is well above 0.01 are followed


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of ``x`` (B, C, H, W) over each (2r+1)² window, clipped at the border (He et al.'s box filter); as a
    row pass then a column pass, so its cost grows with r, not r²."""
    k = 2 * radius + 1
    rows = Fn.avg_pool2d(x, (1, k), stride=1, padding=(0, radius), count_include_pad=False)
    return Fn.avg_pool2d(rows, (k, 1), stride=1, padding=(radius, 0), count_include_pad=False)


def guided_filter(guide: torch.Tensor, p: torch.Tensor, radius: int, eps: float = EPS) -> torch.Tensor:
    """``p`` (B, 1, H, W) filtered with the colour image ``guide`` (B, 3, H, W) in [-1, 1] as guide; same dtype
    as ``p``. ``radius`` 0 returns ``p`` itself."""
    if radius == 0:
        return p
    if radius < 0:
        raise ValueError(f"guided filter radius must be 0 or more, got {radius}")
    if guide.shape[1] != 3 or p.shape[1] != 1:
        raise ValueError(f"expected a (B, 3, H, W) guide and a (B, 1, H, W) map, got {tuple(guide.shape)} "
                         f"and {tuple(p.shape)}")
    I, q = (guide.float() + 1.0) / 2.0, p.float()
    r, g, b = I.unbind(1)
    products = torch.stack([r * r, r * g, r * b, g * g, g * b, b * b], dim=1)
    means = box_mean(torch.cat([I, q, I * q, products], dim=1), radius)  # every window mean in one pass
    mean_i, mean_p, mean_ip = means[:, 0:3], means[:, 3:4], means[:, 4:7]
    cov_ip = mean_ip - mean_i * mean_p  # (B, 3, H, W)
    mr, mg, mb = mean_i.unbind(1)
    e_rr, e_rg, e_rb, e_gg, e_gb, e_bb = means[:, 7:13].unbind(1)
    s_rr, s_rg, s_rb = e_rr - mr * mr + eps, e_rg - mr * mg, e_rb - mr * mb
    s_gg, s_gb, s_bb = e_gg - mg * mg + eps, e_gb - mg * mb, e_bb - mb * mb + eps
    # the symmetric covariance's inverse by cofactors: inv = [[A, B, C], [B, D, E], [C, E, F]] / det
    A, B, C = s_gg * s_bb - s_gb * s_gb, s_rb * s_gb - s_rg * s_bb, s_rg * s_gb - s_rb * s_gg
    D, E, F = s_rr * s_bb - s_rb * s_rb, s_rg * s_rb - s_rr * s_gb, s_rr * s_gg - s_rg * s_rg
    det = s_rr * A + s_rg * B + s_rb * C
    c_r, c_g, c_b = cov_ip.unbind(1)
    a = torch.stack([A * c_r + B * c_g + C * c_b, B * c_r + D * c_g + E * c_b, C * c_r + E * c_g + F * c_b],
                    dim=1) / det[:, None]
    offset = mean_p - (a * mean_i).sum(1, keepdim=True)
    fit = box_mean(torch.cat([a, offset], dim=1), radius)  # each pixel averages the fits of its windows
    out = (fit[:, :3] * I).sum(1, keepdim=True) + fit[:, 3:]
    return out.to(p.dtype)
