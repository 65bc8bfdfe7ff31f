"""Tests for G, D and F of CUT/FastCUT (translate.models.networks)."""
from __future__ import annotations

import pytest
import torch

from translate.models.networks import (
    Downsample,
    PatchDiscriminator,
    PatchSampler,
    l2_normalize,
    ResnetGenerator,
    Upsample,
)

# Counted on the reference code (taesungp/contrastive-unpaired-translation,
# models/networks.py, instance norm). G's count is the same with anti-aliasing off,
# because a 3x3 ConvTranspose2d has as many parameters as the 3x3 conv it replaces.
REF_G_PARAMS = 11_378_179
# The reference NLayerDiscriminator(3, 64, 3) has 2,764,737 parameters (the design brief's 2,765,633 is
# within 0.1% of it).
REF_D_PARAMS = 2_764_737
ROLES = ["input", "down1", "down2", "block1", "block3"]


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def tiny_g(**kw) -> ResnetGenerator:
    return ResnetGenerator(ngf=8, n_blocks=3, **kw)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("antialias_up", [True, False])
def test_generator_shape_and_range(antialias: bool, antialias_up: bool) -> None:
    torch.manual_seed(0)
    g = tiny_g(antialias=antialias, antialias_up=antialias_up)
    y = g(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert y.shape == (2, 3, 64, 64)


def test_generator_param_counts() -> None:
    assert n_params(ResnetGenerator()) == REF_G_PARAMS
    assert n_params(ResnetGenerator(antialias=False, antialias_up=False)) == REF_G_PARAMS


def test_discriminator_param_count() -> None:
    d = PatchDiscriminator()
    assert n_params(d) == REF_D_PARAMS
    assert n_params(PatchDiscriminator(antialias=False)) == REF_D_PARAMS


@pytest.mark.parametrize("antialias", [True, False])
def test_discriminator_shape(antialias: bool) -> None:
    d = PatchDiscriminator(ndf=8, antialias=antialias)
    assert d(torch.randn(2, 3, 64, 64)).shape == (2, 1, 6, 6)


def test_blur_layers_preserve_constants_and_shapes() -> None:
    x = torch.full((1, 4, 8, 10), 0.5)
    down, up = Downsample(4)(x), Upsample(4)(x)
    assert down.shape == (1, 4, 4, 5) and up.shape == (1, 4, 16, 20)
    assert torch.allclose(down, x[:, :, :4, :5]) and torch.allclose(up, torch.full_like(up, 0.5))


@pytest.mark.parametrize("antialias", [True, False])
def test_forward_features_match_encode(antialias: bool) -> None:
    torch.manual_seed(0)
    g = tiny_g(antialias=antialias).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y, feats = g(x, ROLES)
        enc = g.encode(x, ROLES)
        y_plain = g(x)
    assert torch.equal(y, y_plain)
    assert len(feats) == len(enc) == len(ROLES)
    for f, e in zip(feats, enc):
        assert torch.equal(f, e)
    assert [f.shape[1] for f in feats] == g.feature_channels(ROLES) == [3, 16, 32, 32, 32]
    # spatial sizes: padded input, full res (anti-aliased conv) or half, then quarter
    assert feats[0].shape[-2:] == (38, 38)
    assert feats[1].shape[-1] == (32 if antialias else 16) and feats[2].shape[-1] == (16 if antialias else 8)


def test_features_follow_requested_order_and_unknown_role_raises() -> None:
    g = tiny_g()
    x = torch.randn(1, 3, 16, 16)
    a, b = g.encode(x, ["down2", "input"])
    assert a.shape[1] == 32 and b.shape[1] == 3
    with pytest.raises(ValueError, match="block9"):
        g.encode(x, ["block9"])
    with pytest.raises(ValueError, match="stem"):
        g.feature_channels(["stem"])


def test_encode_stops_at_deepest_layer() -> None:
    g = tiny_g()
    calls: list[str] = []
    for name, step in g.encoder.named_children():
        step.register_forward_hook(lambda *_, n=name: calls.append(n))
    g.encode(torch.randn(1, 3, 16, 16), ["down1"])
    assert calls[-1] == "down1" and "block1" not in calls


def test_patch_sampler_mlps_built_eagerly() -> None:
    f = PatchSampler([3, 16, 32], nc=8)
    assert len(f.mlps) == 3
    assert n_params(f) == (3 * 8 + 8 + 8 * 8 + 8) + (16 * 8 + 8 + 72) + (32 * 8 + 8 + 72)


def test_patch_sampler_ids_and_normalisation() -> None:
    torch.manual_seed(0)
    # With the default gain 0.02 the MLP outputs are so small (~1e-5) that the 1e-7 eps
    # of the reference normalisation visibly shortens them; gain 1 isolates the check.
    f = PatchSampler([4, 6], nc=8, init_gain=1.0)
    feats = [torch.randn(2, 4, 8, 8), torch.randn(2, 6, 3, 3)]
    samples, ids = f(feats, num_patches=16)
    assert samples[0].shape == (2 * 16, 8)
    assert samples[1].shape == (2 * 9, 8)  # capped at H*W = 9
    assert ids[0].shape == (16,) and len(set(ids[0].tolist())) == 16
    for s in samples:
        assert torch.allclose(s.norm(dim=1), torch.ones(len(s)), atol=1e-5)
    again, ids2 = f(feats, num_patches=16, patch_ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids2))
    assert all(torch.equal(a, b) for a, b in zip(samples, again))
    # Row j of image b is the MLP of the feature at location ids[j] of that image.
    flat = feats[0][1].flatten(1)  # (C, H*W)
    manual = f.mlps[0](flat[:, ids[0][3]])
    assert torch.allclose(samples[0][16 + 3], manual / (manual.norm() + 1e-7), atol=1e-6)


def test_patch_sampler_all_positions_and_errors() -> None:
    f = PatchSampler([4], nc=8, init_gain=1.0)
    (s,), (ids,) = f([torch.randn(2, 4, 3, 5)], num_patches=0)
    assert s.shape == (2, 15, 8) and torch.equal(ids, torch.arange(15))
    assert torch.allclose(s.norm(dim=-1), torch.ones(2, 15), atol=1e-5)
    with pytest.raises(ValueError):
        f([torch.randn(1, 4, 3, 3)] * 2, num_patches=4)


def test_patch_sampler_sends_a_contiguous_gradient_to_G():
    """InstanceNorm's backward is wrong at batch 1 on CPU for channels-last-strided gradients (PyTorch 2.14):
    F must hand G's features a gradient in their own NCHW layout, and G's gradient must not depend on it."""
    import torch.nn.functional as Fn

    torch.manual_seed(0)
    F = PatchSampler([4], nc=8)
    for num_patches in (5, 0):
        x = torch.randn(1, 4, 3, 3, requires_grad=True)
        feat = Fn.instance_norm(x)
        feat.retain_grad()
        samples, ids = F([feat], num_patches)
        samples[0].square().sum().backward()
        assert feat.grad.is_contiguous()
        x2 = x.detach().clone().requires_grad_(True)
        feat2 = Fn.instance_norm(x2)
        manual = feat2.flatten(2)[:, :, ids[0]].transpose(1, 2).contiguous()  # same rows as F's gather
        out = l2_normalize(F.mlps[0](manual.reshape(-1, 4)), dim=-1)
        out.square().sum().backward()
        torch.testing.assert_close(x.grad, x2.grad)


def test_instance_norm_equals_torch_and_its_channels_last_gradient_is_right_at_batch_one():
    """The networks' InstanceNorm (group norm per channel) gives nn.InstanceNorm2d's numbers, and, unlike it
    (PyTorch 2.14 on CPU), the right input gradient for a batch of one with a channels-last gradient."""
    from translate.models.networks.norm import InstanceNorm

    torch.manual_seed(0)
    x = torch.randn(1, 8, 9, 11, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 8, 9, 11, dtype=torch.float64)
    want_y = torch.nn.InstanceNorm2d(8)(x)
    (want_dx,) = torch.autograd.grad(want_y, x, g)
    xc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    y = InstanceNorm(8)(xc)
    (dx,) = torch.autograd.grad(y, xc, g.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(y, want_y.detach())
    torch.testing.assert_close(dx, want_dx)
    assert not list(InstanceNorm(8).state_dict())  # state dicts as with nn.InstanceNorm2d(affine=False)


def test_upsample_is_exactly_its_transposed_blur_definition():
    """The bilinear fast path equals the replicate-pad + binomial transposed conv it replaces, values and
    gradients, at odd and even sizes."""
    from translate.models.networks.blur import Upsample

    torch.manual_seed(0)
    for shape in [(2, 3, 5, 7), (1, 4, 1, 1), (1, 4, 16, 6)]:
        up = Upsample(shape[1]).double()
        assert up.bilinear
        x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
        fast, slow = up(x), up.transposed(x)
        assert fast.shape == (shape[0], shape[1], 2 * shape[2], 2 * shape[3])
        torch.testing.assert_close(fast, slow)
        g = torch.randn_like(fast)
        torch.testing.assert_close(torch.autograd.grad(fast, x, g)[0], torch.autograd.grad(slow, x, g)[0])
