"""data.augment: an albumentations pipeline from YAML, seeded per sample so a resumed run sees the same images."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translate.config import DataConfig, load_config
from translate.datasets.folder import build_dataset, build_loader
from translate.datasets.transforms import Albumentations, TrainTransform
from translate.errors import ConfigError

COLOUR = [{"__class_fullname__": "HueSaturationValue", "p": 1.0},
          {"__class_fullname__": "GaussNoise", "p": 0.5}]


@pytest.fixture
def root(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    for domain in ("trainA", "trainB"):
        (tmp_path / domain).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / domain / f"{i}.png")
    return tmp_path


def test_pipeline_is_a_function_of_the_seed():
    img = Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    aug = Albumentations(COLOUR)
    a, b, c = np.asarray(aug(img, 7)), np.asarray(aug(img, 7)), np.asarray(aug(img, 8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, np.asarray(img))  # HueSaturationValue with p=1 changed it


def test_yaml_forms_are_accepted_and_bad_ones_are_one_line_errors(tmp_path):
    import albumentations as A

    full = A.to_dict(A.Compose([A.HueSaturationValue(p=1.0)]))  # what albumentations itself writes
    img = Image.new("RGB", (16, 16), (120, 60, 30))
    assert np.array_equal(np.asarray(Albumentations(full)(img, 3)),
                          np.asarray(Albumentations(COLOUR[:1])(img, 3)))
    path = tmp_path / "aug.yaml"
    path.write_text("base: smoke\ndata:\n  augment:\n    - {__class_fullname__: HorizontalFlip, p: 0.5}\n")
    assert load_config(str(path)).data.augment == [{"__class_fullname__": "HorizontalFlip", "p": 0.5}]
    with pytest.raises(ConfigError, match="data.augment: not an albumentations pipeline"):
        Albumentations([{"__class_fullname__": "NoSuchTransform"}])
    with pytest.raises(ConfigError, match="data.augment"):
        load_config("smoke", ["data.augment=3"])
    resize = Albumentations([{"__class_fullname__": "Resize", "height": 8, "width": 8, "p": 1.0}])
    with pytest.raises(ConfigError, match="size- and type-preserving"):
        resize(img, 0)


def test_without_augment_the_transform_draws_exactly_as_before():
    """data.augment draws after crop and flip: a transform without it leaves the RNG where it was."""
    img = Image.fromarray(np.random.default_rng(2).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    plain, augmented = TrainTransform("resize_and_crop", 36, 32, True), TrainTransform("resize_and_crop", 36, 32,
                                                                                       True, COLOUR)
    r1, r2 = random.Random(5), random.Random(5)
    plain(img, r1)
    augmented(img, r2)
    r2_state = random.Random(5)
    plain(img, r2_state)
    assert r1.getstate() == r2_state.getstate()


def test_resumed_loader_sees_the_same_augmented_batches(root):
    """A loader started at step 2 (as after --resume) yields the batches of steps 2.. of a run from 0."""
    cfg = DataConfig(root=str(root), load_size=36, crop_size=32, batch_size=2, augment=COLOUR)
    straight = iter(build_loader(build_dataset(cfg, seed=4), cfg, start_step=0))
    batches = [next(straight) for _ in range(4)]
    resumed = iter(build_loader(build_dataset(cfg, seed=4), cfg, start_step=2))
    for step in (2, 3):
        again = next(resumed)
        assert torch.equal(again["a"], batches[step]["a"]) and torch.equal(again["b"], batches[step]["b"])
    other = next(iter(build_loader(build_dataset(cfg, seed=5), cfg, start_step=0)))
    assert not torch.equal(other["a"], batches[0]["a"])  # the seed matters
