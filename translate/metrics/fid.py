"""FID and KID from feature arrays: the math only, independent of the network that made the features.

FID is the Fréchet distance between Gaussians fitted to two feature sets (Heusel et al., "GANs Trained by
a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", 2017). KID is the unbiased squared MMD
with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets (Bińkowski et al.,
"Demystifying MMD GANs", 2018), as in clean-fid and the stylegan3 metrics.
"""
from __future__ import annotations

import numpy as np


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of an (N, D) feature array, in float64."""
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"expected (N, D) features with N >= 2, got shape {feats.shape}")
    return feats.mean(axis=0), np.cov(feats, rowvar=False).reshape(feats.shape[1], feats.shape[1])


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    """Symmetric square root of a positive semi-definite matrix (tiny negative eigenvalues are rounding)."""
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    tr((S1 S2)^(1/2)) equals the sum of square roots of the eigenvalues of the symmetric PSD matrix
    S1^(1/2) S2 S1^(1/2); going through it avoids the complex results of a general ``sqrtm`` on
    rank-deficient covariances (fewer images than feature dimensions is common here).
    """
    root1 = _sqrt_psd(np.asarray(sigma1, dtype=np.float64))
    middle = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    """FID between two (N, D) feature arrays (N may differ between them).

    With fewer samples than dimensions (64 test images, 2048 Inception features) it avoids D x D matrices:
    with S_i = A_i^T A_i (A_i the centred features over sqrt(N_i - 1)), the non-zero eigenvalues of S1 S2 are
    those of (A1 A2^T)(A1 A2^T)^T, so tr((S1 S2)^(1/2)) is the sum of the singular values of A1 A2^T.
    """
    x, y = np.asarray(feats1, dtype=np.float64), np.asarray(feats2, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or min(x.shape[0], y.shape[0]) < 2:
        raise ValueError(f"expected two (N, D) feature arrays of the same D with N >= 2, got {x.shape} and {y.shape}")
    if max(x.shape[0], y.shape[0]) > x.shape[1]:
        return frechet_distance(*feature_stats(x), *feature_stats(y))
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    a1 = (x - mu1) / np.sqrt(x.shape[0] - 1)  # (N1, D)
    a2 = (y - mu2) / np.sqrt(y.shape[0] - 1)  # (N2, D)
    tr_covmean = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum()
    diff = mu1 - mu2
    return float(diff @ diff + (a1**2).sum() + (a2**2).sum() - 2.0 * tr_covmean)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m, n = x.shape[0], y.shape[0]
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kid_from_features(feats1: np.ndarray, feats2: np.ndarray, num_subsets: int = 100,
                      max_subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD^2 over ``num_subsets`` random subsets of equal size.

    The subset size is min(N1, N2, max_subset_size); subsets are drawn without replacement from a
    generator seeded by ``seed``, so the figure is reproducible and touches no global RNG.
    """
    x = np.asarray(feats1, dtype=np.float64)
    y = np.asarray(feats2, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two (N, D) feature arrays of the same D, got {x.shape} and {y.shape}")
    m = min(x.shape[0], y.shape[0], max_subset_size)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {x.shape[0]} and {y.shape[0]}")
    rng = np.random.default_rng(seed)
    values = [_mmd2_unbiased(x[rng.choice(x.shape[0], m, replace=False)],
                             y[rng.choice(y.shape[0], m, replace=False)]) for _ in range(num_subsets)]
    return float(np.mean(values)), float(np.std(values))
