"""DiffAugment for D's inputs: shapes, ranges, differentiability, and the same policy for real and fake."""
from __future__ import annotations

import pytest
import torch

from translate.config import load_config
from translate.config import parse_diffaug
from translate.models.augment import DiffAugment, build_d_augment, color, cutout, translation
from translate.errors import ConfigError
from translate.models.cut import build_model


def images(b=4, size=32, seed=0):
    return torch.rand(b, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # [-1, 1]


def test_policy_parsing_and_off_by_default():
    assert parse_diffaug("color, translation,cutout") == ("color", "translation", "cutout")
    assert build_d_augment("") is None
    assert load_config("smoke").model.diffaug == ""
    with pytest.raises(ConfigError, match="model.diffaug: unknown augmentation 'colour'"):
        build_d_augment("colour,cutout")
    with pytest.raises(ConfigError, match="model.diffaug: unknown augmentation 'colour'"):
        load_config("smoke", ["model.diffaug=colour,cutout"])  # caught with the config, before any download


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shapes_dtype_and_gradients(policy):
    x = images().requires_grad_()
    y = DiffAugment(policy)(x)
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable, so G learns through it


def test_translation_and_cutout_keep_the_range():
    torch.manual_seed(0)
    x = images(8, 32)
    for op in (translation, cutout):
        y = op(x)
        assert y.min() >= -1 and y.max() <= 1


def test_translation_shifts_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = torch.full((64, 3, 32, 32), -1.0)
    x[:, :, 16, 16] = 1.0  # one white pixel in the middle
    y = translation(x)
    moved = 0
    for i in range(64):
        hits = (y[i, 0] == 1.0).nonzero()
        assert len(hits) == 1  # copied exactly (nearest sampling at integer shifts)
        dy, dx = (hits[0] - 16).abs().tolist()
        assert dy <= 4 and dx <= 4  # 32 / 8
        moved += (dy, dx) != (0, 0)
    assert moved > 32  # most images are actually shifted
    assert (y == 0).any()  # the border is padded with zeros


def test_cutout_zeroes_one_square_of_half_the_side():
    torch.manual_seed(0)
    y = cutout(torch.ones(64, 3, 32, 32))
    zeros = (y[:, 0] == 0)
    fractions = zeros.float().mean(dim=(1, 2))
    assert (fractions > 0).all() and (fractions <= 0.25).all() and (fractions == 0.25).any()
    assert torch.equal(zeros, (y == 0).all(dim=1))  # the same square in every channel
    for i in range(64):  # a square (clipped at the border): a product of a row range and a column range
        rows, cols = zeros[i].any(dim=1), zeros[i].any(dim=0)
        assert torch.equal(zeros[i], rows[:, None] & cols[None, :])


def test_color_changes_a_grey_image_only_by_brightness():
    torch.manual_seed(0)
    x = torch.full((16, 3, 8, 8), 0.2)
    y = color(x)
    shift = y - x  # saturation and contrast leave a uniform grey image unchanged
    assert torch.allclose(shift, shift[:, :1, :1, :1].expand_as(shift), atol=1e-6)
    assert shift.abs().max() <= 0.5 and shift.abs().max() > 0.05


def test_same_policy_for_real_and_fake_in_both_phases():
    cfg = load_config("smoke", ["model.diffaug=color,translation,cutout"])
    model = build_model(cfg.model)
    assert isinstance(model.d_augment, DiffAugment) and model.d_augment.ops == ("color", "translation", "cutout")
    assert build_model(load_config("smoke").model).d_augment is None
    seen = []
    policy = model.d_augment

    def spy(x):
        seen.append(x.detach().clone())
        return policy(x)

    model.d_augment = spy
    batch = {"a": images(2, 32, 1), "b": images(2, 32, 2)}
    out = model(batch)
    model.phase_losses("D", batch, out)
    model.phase_losses("G", batch, out)
    assert len(seen) == 3
    assert torch.equal(seen[0], out.fake_b.detach()) and torch.equal(seen[1], out.real_b)  # D: fake and real
    assert torch.equal(seen[2], out.fake_b.detach())  # G: fake
    # One function for both: identical real and fake images get identical augmentations from the same RNG state.
    torch.manual_seed(3)
    a = policy(batch["b"])
    torch.manual_seed(3)
    assert torch.equal(a, policy(batch["b"].clone()))
    assert not torch.equal(a, batch["b"])
