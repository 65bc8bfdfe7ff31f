"""Tests for the procedurally generated demo dataset (translate.datasets.synthetic)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from translate.config import SyntheticConfig
from translate.datasets import synthetic
from translate.datasets.folder import resolve_layout
from translate.datasets.synthetic import MODE_NAMES, ensure_synthetic, synthetic_dir
from translate.errors import ConfigError

SMALL = SyntheticConfig(size=32, n_train=5, n_test=64, n_modes=3, seed=7)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return ensure_synthetic(SMALL, tmp_path_factory.mktemp("demo"))


def read(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def as_float(path: Path) -> np.ndarray:
    return read(path).astype(np.float64) / 255.0


def test_layout_counts_labels_and_masks(demo):
    counts = {d.name: len(list(d.iterdir())) for d in demo.iterdir() if d.is_dir()}
    assert counts == {"trainA": 5, "trainB": 5, "testA": 64, "testB": 64, "testA_gt": 64,
                      "testA_mask": 64, "testB_mask": 64}
    labels = json.loads((demo / "labels.json").read_text())
    assert labels["modes"] == list(MODE_NAMES[:3])
    # The ground truth of each test animal is the mode its variant calls for.
    assert labels["testA_gt"] == labels["testA"] and sorted(labels["testA"]) == [f"{i:05d}.png" for i in range(64)]
    assert set(labels["testA"].values()) == {0, 1, 2}  # every variant occurs
    assert sorted(labels["testB"]) == sorted(p.name for p in (demo / "testB").iterdir())
    assert set(labels["testB"].values()) == {0, 1, 2}  # every mode occurs
    assert read(demo / "testA" / "00000.png").shape == (32, 32, 3)
    mask = read(demo / "testA_mask" / "00000.png")
    assert set(np.unique(mask)) <= {0, 255} and 0 < (mask > 0).mean() < 0.5
    a, b = resolve_layout(demo)  # usable as an ordinary dataset folder
    assert len(a) == len(b) == 5
    a, b = resolve_layout(demo, split="test")
    assert len(a) == len(b) == 64


def test_generation_is_deterministic_and_cached(tmp_path, demo, monkeypatch):
    cfg = SyntheticConfig(size=32, n_train=3, n_test=4, n_modes=3, seed=7)
    one, two = ensure_synthetic(cfg, tmp_path / "one"), ensure_synthetic(cfg, tmp_path / "two")
    files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
    assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)
    # Each image depends only on (seed, domain, split, index): the first train images match the big set's.
    assert (one / "trainA" / "00002.png").read_bytes() == (demo / "trainA" / "00002.png").read_bytes()
    monkeypatch.setattr(synthetic, "generate_synthetic", lambda *a: pytest.fail("regenerated"))
    assert ensure_synthetic(cfg, tmp_path / "one") == one
    assert synthetic_dir(SyntheticConfig(seed=8), tmp_path) != synthetic_dir(SyntheticConfig(seed=7), tmp_path)
    monkeypatch.setenv("TRANSLATE_DATA", str(tmp_path / "one"))
    assert ensure_synthetic(cfg) == one


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    cfg = SyntheticConfig(size=32, n_train=2, n_test=2)

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "_save", crash)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(cfg, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [dict(n_modes=0), dict(n_modes=len(MODE_NAMES) + 1), dict(size=8)])
def test_invalid_config_is_refused(tmp_path, bad):
    with pytest.raises(ConfigError, match="data.synthetic"):
        ensure_synthetic(SyntheticConfig(n_train=1, n_test=1, **bad), tmp_path)


def region_stats(demo: Path, domain: str):
    """Per image: mean background colour, mean object colour and the object's colour spread."""
    bg, obj, spread = [], [], []
    for path in sorted((demo / f"test{domain}").iterdir()):
        img = as_float(path)
        mask = as_float(demo / f"test{domain}_mask" / path.name) > 0.5
        bg.append(img[~mask].mean(0))
        obj.append(img[mask].mean(0))
        spread.append(img[mask].std(0).mean())
    return np.array(bg), np.array(obj), np.array(spread)


def test_backgrounds_alike_objects_differ(demo):
    bg_a, obj_a, spread_a = region_stats(demo, "A")
    bg_b, obj_b, spread_b = region_stats(demo, "B")
    # Same scene distribution: background colour statistics agree to within sampling noise.
    assert np.abs(bg_a.mean(0) - bg_b.mean(0)).max() < 0.04
    assert np.abs(bg_a.std(0) - bg_b.std(0)).max() < 0.04
    # Domain A objects are plain coats (little texture); B objects are patterned.
    assert spread_a.mean() < 0.1 and spread_b.mean() > 3 * spread_a.mean()
    assert np.abs(obj_a.mean(0) - obj_b.mean(0)).max() > 0.1


def test_the_variant_sets_coat_and_build_in_both_domains(demo):
    """Content decides the mode: A's variants differ in coat colour, and both domains share each variant's build."""
    labels = json.loads((demo / "labels.json").read_text())
    _, obj_a, _ = region_stats(demo, "A")
    variant = np.array([labels["testA"][f"{i:05d}.png"] for i in range(len(obj_a))])
    coats = np.array([obj_a[variant == k].mean(0) for k in range(3)])
    assert min(np.abs(coats[j] - coats[k]).max() for j in range(3) for k in range(j)) > 0.15
    # The same variant gives the same build (leg length / body height) whatever the domain draws.
    for domain in "AB":
        for i in range(6):
            scene = synthetic._sample_scene(synthetic.scene_rng(SMALL.seed, domain, "test", i), SMALL.size, 3)
            build = synthetic._BUILDS[scene["variant"]]
            for an in scene["animals"]:
                assert an["legs"] / an["b"] == pytest.approx(build[1], rel=0.08)
                assert an["b"] / an["a"] == pytest.approx(build[0], rel=0.08)


def test_ground_truth_changes_only_the_object(demo):
    for i in range(8):
        name = f"{i:05d}.png"
        src, gt = as_float(demo / "testA" / name), as_float(demo / "testA_gt" / name)
        mask = as_float(demo / "testA_mask" / name) > 0.5
        near = np.zeros_like(mask)  # the mask grown by one pixel covers the soft outline
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                near |= np.roll(mask, (dy, dx), axis=(0, 1))
        assert np.array_equal(src[~near], gt[~near])
        assert np.abs(src[mask] - gt[mask]).mean() > 0.1


def test_a_pairs_of_any_split_are_what_the_folders_hold(demo):
    labels = json.loads((demo / "labels.json").read_text())
    for i in (0, 5):
        img, gt, mask, variant = synthetic.render_a_pair(SMALL, "test", i)
        name = f"{i:05d}.png"
        assert np.array_equal(img, read(demo / "testA" / name)) and np.array_equal(gt, read(demo / "testA_gt" / name))
        assert np.array_equal(mask, read(demo / "testA_mask" / name)) and variant == labels["testA"][name]
    img, gt, mask, variant = synthetic.render_a_pair(SMALL, "train", 1)  # train pairs exist only through here
    assert np.array_equal(img, read(demo / "trainA" / "00001.png"))
    assert (gt != img)[mask > 0].mean() > 0.5  # the animal re-textured ...
    assert (gt != img)[mask == 0].mean() < 0.1  # ... and the background kept (the soft outline aside)
