"""The textured backgrounds of the demo dataset (data.synthetic.background; datasets/textures.py), and the
default (smooth) left exactly as it was before the option existed."""
from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from translate.config import SyntheticConfig, load_config
from translate.datasets import synthetic
from translate.datasets.synthetic import ensure_synthetic, render_a_background, render_a_pair, synthetic_key
from translate.datasets.textures import band_noise
from translate.errors import ConfigError
from translate.metrics.evaluate import Evaluator

TINY = SyntheticConfig(size=32, n_train=2, n_test=2, n_modes=3, seed=7)
TEXTURED = dataclasses.replace(TINY, background="textured")
# Pinned from the generator before the option existed (commit b06bf2b): the default demo set's cache folder
# (demo-b66d1a628fc8, which the demo preset and the bundled model use), TINY's folder, its labels.json and a
# hash of every array the generator renders for TINY. A change here regenerates everyone's cached sets and
# changes every demo result: bump GENERATOR_VERSION and re-pin on purpose, never by accident.
DEFAULT_KEY, TINY_DIR = "b66d1a628fc8", "demo-ff0af559bf0b"
TINY_LABELS_SHA = "dfc9f9c4ae1ed78347f00fd9e218275e46674646d1e30650098f7f38e94d7390"
TINY_RENDER_SHA = "76141d67d7e5e0935101ad6fccda55872061b37ac64ce6bd5485cde1d0cfa65e"


def render_hash(cfg: SyntheticConfig) -> str:
    """sha256 of every array rendered for the 2+2 images of each split: A, ground truth, mask, bare background, B."""
    h = hashlib.sha256()
    for split in ("train", "test"):
        for i in range(2):
            img, gt, mask, _ = render_a_pair(cfg, split, i)
            scene = synthetic._scene(cfg, "B", split, i)
            for arr in (img, gt, mask, render_a_background(cfg, split, i),
                        synthetic.render_scene(scene, cfg.size, scene["variant"])[0]):
                h.update(arr.tobytes())
    return h.hexdigest()


def outside(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels more than one pixel away from the object mask (its soft rim excluded)."""
    near = mask > 0
    grown = near.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grown |= np.roll(near, (dy, dx), axis=(0, 1))
    return ~grown


def test_the_default_renders_and_caches_what_it_did_before_the_option(tmp_path):
    assert SyntheticConfig().background == "smooth" == load_config("demo").data.synthetic.background
    assert synthetic_key(SyntheticConfig()) == synthetic_key(SyntheticConfig(background="smooth")) == DEFAULT_KEY
    assert synthetic_key(load_config("demo").data.synthetic) == DEFAULT_KEY
    assert render_hash(TINY) == render_hash(dataclasses.replace(TINY, background="smooth")) == TINY_RENDER_SHA
    root = ensure_synthetic(TINY, tmp_path)
    assert root.name == TINY_DIR
    assert hashlib.sha256((root / "labels.json").read_bytes()).hexdigest() == TINY_LABELS_SHA
    # The textured set is another dataset: its own folder, and labels.json says how to re-render it.
    textured = ensure_synthetic(TEXTURED, tmp_path)
    assert textured != root and render_hash(TEXTURED) != TINY_RENDER_SHA
    assert json.loads((textured / "labels.json").read_text())["config"]["background"] == "textured"


def test_the_texture_is_a_pure_function_of_the_image():
    for split, i in (("train", 0), ("test", 1)):
        one, two = render_a_pair(TEXTURED, split, i), render_a_pair(TEXTURED, split, i)
        assert all(np.array_equal(a, b) for a, b in zip(one[:3], two[:3]))
    a0, a1 = render_a_background(TEXTURED, "train", 0), render_a_background(TEXTURED, "train", 1)
    f0, f1 = (synthetic._scene(TEXTURED, "A", "train", i)["texture"]["blades_near"] for i in (0, 1))
    assert not np.allclose(f0, f1) and not np.array_equal(a0, a1)  # each image has its own texture
    other_seed = render_a_background(dataclasses.replace(TEXTURED, seed=8), "train", 0)
    assert not np.array_equal(a0, other_seed)


def test_the_textured_scene_is_the_smooth_scene_with_textured_sky_and_ground():
    for i in range(3):
        s_img, _, s_mask, s_variant = render_a_pair(TINY, "test", i)
        t_img, _, t_mask, t_variant = render_a_pair(TEXTURED, "test", i)
        # Drawn after the rest of the scene: same variant, animals, mask and pixel noise.
        assert s_variant == t_variant and np.array_equal(s_mask, t_mask)
        core = outside(255 - s_mask) & (s_mask > 0)  # inside the animal, where the background hardly shows
        assert (s_img[core] == t_img[core]).all(-1).mean() > 0.8
        assert np.abs(s_img[core].astype(int) - t_img[core]).mean() < 1
        bg = outside(s_mask)
        s_bg, t_bg = s_img.astype(float), t_img.astype(float)
        assert np.abs(s_bg - t_bg)[bg].mean() > 5  # the sky and the ground changed ...
        # ... into texture: far more pixel-to-pixel variation along rows than the smooth gradients have.
        assert np.abs(np.diff(t_bg, axis=1)).mean() > 1.8 * np.abs(np.diff(s_bg, axis=1)).mean()


def test_ground_truth_and_bare_background_carry_the_same_texture():
    for split, i in (("test", 0), ("test", 1), ("train", 3)):
        img, gt, mask, _ = render_a_pair(TEXTURED, split, i)
        bare = render_a_background(TEXTURED, split, i)
        keep = outside(mask)
        assert np.array_equal(img[keep], bare[keep]) and np.array_equal(gt[keep], bare[keep])
        assert np.abs(gt.astype(int) - bare.astype(int))[mask > 0].mean() > 20  # the animal is gone from bare


def test_evaluator_renders_the_textured_backgrounds_of_a_textured_set(data_home):
    cfg = dataclasses.replace(TEXTURED, n_test=12)
    ev = Evaluator(ensure_synthetic(cfg, data_home), "test", metrics=("gt", "modes"))
    mask = ev.mask[:, 0].numpy() > 0  # (N, S, S)
    keep = np.stack([outside(m.astype(np.uint8) * 255) for m in mask])[:, None].repeat(3, 1)
    assert np.array_equal(ev.background.numpy()[keep], ev.real_a.numpy()[keep])
    gt = ev.score(ev.gt)
    assert gt["gt_bg_l1"] == 0.0 and gt["shape_iou"] > 0.7
    assert gt["mode_accuracy"] == 1.0 and ev.score(ev.real_a)["source_share"] == 1.0  # the modes read as before
    assert ev.score(ev.background)["shape_iou"] == 0.0
    # A translator that paints the right animal but flattens the grass and sky pays for it in gt_bg_l1.
    smooth = ensure_synthetic(dataclasses.replace(cfg, background="smooth"), data_home)
    flattened = Evaluator(smooth, "test", metrics=("gt",)).gt  # the same scenes' ground truth, smooth
    assert ev.score(flattened)["gt_bg_l1"] > 5 * max(ev.score(ev.real_a)["gt_bg_l1"], 1e-3)


def test_band_noise_is_band_limited_and_normalised():
    rng = np.random.default_rng(0)
    field = band_noise(rng, 64, peak=8.0)
    assert abs(field.mean()) < 1e-9 and field.std() == pytest.approx(1.0)
    power = np.abs(np.fft.rfft2(field)) ** 2
    fy, fx = np.fft.fftfreq(64)[:, None] * 64, np.fft.rfftfreq(64)[None, :] * 64
    radius = np.hypot(fx, fy)
    assert power[(radius > 4) & (radius < 16)].sum() > 0.6 * power.sum()  # most within an octave of the peak
    assert power[(radius < 2) | (radius > 32)].sum() < 0.03 * power.sum()  # almost none beyond two
    upright = band_noise(np.random.default_rng(0), 64, peak=16.0, stretch=5.0)  # grass blades: columns agree
    assert np.abs(np.diff(upright, axis=0)).mean() < 0.5 * np.abs(np.diff(upright, axis=1)).mean()


def test_an_unknown_background_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="data.synthetic.background: expected smooth or textured"):
        ensure_synthetic(dataclasses.replace(TINY, background="grass"), tmp_path)
    with pytest.raises(ConfigError, match="data.synthetic.background"):
        load_config("demo", ["data.synthetic.background=grass"])
