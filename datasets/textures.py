"""Textured backgrounds of the synthetic demo scenes (datasets/synthetic.py, ``data.synthetic.background=textured``).

Grass below the horizon and sky noise above it, both band-limited noise: white Gaussian noise filtered in the
Fourier domain by a gain that peaks at one frequency and falls off over about an octave either side (a band-pass),
with frequencies along y weighted by ``stretch`` so that grass stands in upright blades and the sky's noise lies
in horizontal wisps. Frequencies are in cycles per image, so a 32 px and a 64 px scene show the same pattern at
their own resolution (bands above the image's Nyquist frequency are dropped).

The fields are drawn from the scene's own random stream after everything else the scene draws, so a textured
scene has the smooth scene's sky colours, horizon, clouds, animals and pixel noise, and the texture is a pure
function of (seed, domain, split, index) like the rest of the scene. The fields are stored in the scene, so
every render of it (domain A, its ground truth, its bare background for the shape figure) shows the same texture.
"""
from __future__ import annotations

import numpy as np

# (peak frequency in cycles per image, stretch of y frequencies) of each field
_FIELDS = {"blades_far": (22.0, 5.0), "blades_near": (11.0, 5.0), "patches": (3.0, 1.0), "wisps": (4.0, 0.3)}
_DRY_SHIFT = np.array([0.10, 0.02, -0.06])  # a patch of dry grass is redder and less blue


def band_noise(rng: np.random.Generator, size: int, peak: float, stretch: float = 1.0) -> np.ndarray:
    """(size, size) noise of zero mean and unit std whose spectrum peaks at ``peak`` cycles per image (one octave
    wide on a log scale), with y frequencies counted ``stretch`` times (> 1: structures elongated vertically)."""
    white = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None] * size  # cycles per image
    fx = np.fft.rfftfreq(size)[None, :] * size
    radius = np.hypot(fx, fy * stretch)
    with np.errstate(divide="ignore"):
        octaves = np.log2(radius / peak)  # -inf at the mean, which the gain then removes
    gain = np.exp(-0.5 * octaves**2)
    field = np.fft.irfft2(np.fft.rfft2(white) * gain, s=(size, size))
    std = field.std()
    return field / std if std > 0 else field


def sample_texture(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """The texture fields of one scene, each (size, size), drawn from the scene's stream."""
    return {name: band_noise(rng, size, peak, stretch) for name, (peak, stretch) in _FIELDS.items()}


def textured_sky(sky: np.ndarray, texture: dict[str, np.ndarray]) -> np.ndarray:
    """(H, W, 3) sky with pale wisps: noise above its mean whitens the sky, noise below darkens it a little."""
    w = texture["wisps"][..., None]
    return sky + 0.16 * np.clip(w, 0, None) * (1.0 - sky) - 0.03 * np.clip(-w, 0, None) * sky


def textured_ground(ground: np.ndarray, texture: dict[str, np.ndarray], t_ground: np.ndarray) -> np.ndarray:
    """(H, W, 3) grass: blades finer and fainter at the horizon (``t_ground`` 0) than at the bottom (1), on
    patches of greener and drier grass."""
    t = t_ground[..., 0]
    blades = (1.0 - t) * texture["blades_far"] + t * texture["blades_near"]
    ground = ground * (1.0 + (0.08 + 0.12 * t) * blades)[..., None]
    return ground + 0.5 * texture["patches"][..., None] * _DRY_SHIFT * ground.mean(-1, keepdims=True)
