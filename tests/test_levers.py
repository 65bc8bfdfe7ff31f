"""The options of issue 23 ("levers"): each off by default, each changing what it claims when on.

Generator: model.n_downsampling, model.g_skip, model.g_mask.
"""
from __future__ import annotations

import pytest
import torch

from translate.config import load_config
from translate.errors import ConfigError
from translate.models.cut import build_model
from translate.models.networks import ResnetGenerator
from translate.models.networks.generator import masked_output


def tiny_g(**kw) -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(ngf=8, n_blocks=2, **kw)


@pytest.mark.parametrize("n_down", [1, 2])
@pytest.mark.parametrize("skip", ["none", "add", "concat"])
@pytest.mark.parametrize("antialias", [True, False])
def test_generator_variants_keep_the_image_size_and_name_their_layers(n_down, skip, antialias):
    g = tiny_g(n_downsampling=n_down, skip=skip, antialias=antialias, antialias_up=antialias)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    roles = list(g.roles)
    y, feats = g(x, roles)
    assert y.shape == x.shape and g.multiple == 2**n_down
    assert roles == ["input", *[f"down{i}" for i in range(1, n_down + 1)], "block1", "block2"]
    assert [f.shape[1] for f in feats] == g.feature_channels(roles)
    assert feats[-1].shape[-1] == 16 // 2**n_down  # the trunk's resolution
    for f, e in zip(feats, g.encode(x, roles)):
        torch.testing.assert_close(f, e)
    torch.testing.assert_close(y, g(x))


def test_one_downsampling_has_no_down2_and_the_config_says_so_in_one_line():
    g = tiny_g(n_downsampling=1)
    with pytest.raises(ValueError, match="down2"):
        g.encode(torch.randn(1, 3, 16, 16), ["down2"])
    with pytest.raises(ConfigError) as err:
        load_config("smoke", ["model.n_downsampling=1"])  # smoke's nce_layers name down2
    assert "model.nce_layers: unknown layer 'down2' with model.n_downsampling=1" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="model.n_downsampling: expected 1 or 2"):
        load_config("smoke", ["model.n_downsampling=3"])
    cfg = load_config("smoke", ["model.n_downsampling=1", "model.nce_layers=[input, down1, block1, block2]"])
    assert build_model(cfg.model).G.n_downsampling == 1


def test_skip_connections_carry_the_encoder_to_the_decoder():
    """add: the same parameters as the plain G, but the decoder also sees the encoder's stages, so the output
    differs on the same weights; concat widens the decoder. Defaults build the reference's G."""
    plain, added, cat = tiny_g(), tiny_g(skip="add"), tiny_g(skip="concat")
    added.load_state_dict(plain.state_dict())  # same names and shapes
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(plain(x), added(x))
    assert sum(p.numel() for p in cat.parameters()) > sum(p.numel() for p in plain.parameters())
    cfg = load_config("smoke")
    G = build_model(cfg.model).G
    assert (G.n_downsampling, G.skip) == (2, "none")
    assert build_model(load_config("smoke", ["model.g_skip=concat"]).model).G.skip == "concat"


def test_masked_output_is_the_input_where_the_mask_is_off_and_the_content_where_it_is_on():
    x = torch.rand(1, 3, 4, 4) * 2 - 1
    content = torch.randn(1, 3, 4, 4)
    off = torch.cat([content, torch.full((1, 1, 4, 4), -60.0)], dim=1)
    on = torch.cat([content, torch.full((1, 1, 4, 4), 60.0)], dim=1)
    torch.testing.assert_close(masked_output(off, x), x)
    torch.testing.assert_close(masked_output(on, x), torch.tanh(content))
    half = torch.cat([content, torch.zeros(1, 1, 4, 4)], dim=1)  # m = 0.5: the mean of the two
    torch.testing.assert_close(masked_output(half, x), (x + torch.tanh(content)) / 2)


@pytest.mark.parametrize("skip", ["none", "add"])
def test_masked_g_keeps_the_input_where_its_mask_is_off_and_trains_the_mask(skip):
    """model.g_mask: one more output channel, no tanh module; a mask logit forced to -inf returns the input
    exactly; the CUT objective's gradient reaches the mask channel. The default G keeps 3 channels and its tanh."""
    cfg = load_config("smoke", ["model.g_mask=true", f"model.g_skip={skip}", "model.n_layers_d=2"])
    torch.manual_seed(0)
    model = build_model(cfg.model)
    G = model.G
    last = G.decoder[-1]
    assert G.mask and isinstance(last, torch.nn.Conv2d) and last.out_channels == 4
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    y, feats = G(x, list(G.roles))
    assert y.shape == x.shape and len(feats) == len(G.roles)
    assert not torch.allclose(y, x)
    model.train()
    batch = {"a": x, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    losses = model.phase_losses("G", batch, model(batch)).optimise
    sum(losses.values()).backward()
    assert last.weight.grad[3].abs().sum() > 0 and last.bias.grad[3] != 0  # the mask channel learns
    with torch.no_grad():
        last.bias[3] = -1e4
        torch.testing.assert_close(G(x), x)
    plain = build_model(load_config("smoke").model).G
    assert not plain.mask and plain.decoder[-2].out_channels == 3 and isinstance(plain.decoder[-1], torch.nn.Tanh)
    with pytest.raises(ValueError, match="in_ch 1 must equal out_ch 3"):
        ResnetGenerator(in_ch=1, out_ch=3, mask=True)


# ------------------------------------------------------------------ discriminator: d_scales, R1, spectral norm

def _batch(n=2, size=48):
    torch.manual_seed(1)
    return {"a": torch.rand(n, 3, size, size) * 2 - 1, "b": torch.rand(n, 3, size, size) * 2 - 1}


def _model(*overrides):
    cfg = load_config("smoke", ["model.n_layers_d=2", "data.crop_size=32", *overrides])
    torch.manual_seed(0)
    return build_model(cfg.model)


def test_multiscale_d_judges_downscaled_images_and_packs_its_scores():
    from translate.models.networks import MultiScaleDiscriminator
    from translate.models.networks.discriminator import downscale

    torch.manual_seed(0)
    D = MultiScaleDiscriminator(3, ndf=4, n_layers=2)
    x = torch.randn(2, 3, 48, 48)
    maps = D.maps(x)
    assert [m.shape[-1] for m in maps] == [10, 4, 1]  # 48, 24 and 12 px
    torch.testing.assert_close(maps[1], D.scales[1](downscale(x)))
    torch.testing.assert_close(maps[2], D.scales[2](downscale(downscale(x))))
    packed = D(x)  # what the EBM, the calibration and the refiner read: every scale's patches
    assert packed.shape == (2, 1, 1, sum(m[0].numel() for m in maps))
    torch.testing.assert_close(packed.flatten(1).sum(1), sum(m.flatten(1).sum(1) for m in maps))
    assert len(D.gan_heads) == 3


def test_multiscale_gan_losses_average_over_scales():
    from translate.models.losses import gan_loss

    model = _model("model.d_scales=2")
    batch = _batch()
    out = model(batch)
    d = model.phase_losses("D", batch, out).optimise
    real_maps = model.D.maps(batch["b"])
    want = 0.5 * sum(gan_loss(m, True, "lsgan") for m in real_maps) / 2
    torch.testing.assert_close(d["D/real"], want)
    g = model.phase_losses("G", batch, out).optimise
    fake_maps = model.D.maps(out.fake_b)
    torch.testing.assert_close(g["G/gan"], sum(gan_loss(m, True, "lsgan") for m in fake_maps) / 2)
    with pytest.raises(ConfigError, match="coarsest scale is 8 px"):
        load_config("smoke", ["model.d_scales=3"])  # 32 px crop, 3-layer D needs 24 px


def test_r1_penalises_the_gradient_on_real_images_lazily():
    model = _model("model.lambda_r1=2.0", "model.r1_every=2")
    batch = _batch()
    out = model(batch)
    first = model.phase_losses("D", batch, out).optimise
    real = batch["b"].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.D(real).flatten(1).mean(1).sum(), real)
    want = 0.5 * 2.0 * 2 * grad.square().flatten(1).sum(1).mean()  # γ/2 · ‖∇‖², times k=2 (lazy)
    torch.testing.assert_close(first["D/r1"], want)
    # the penalty trains D: its gradient reaches D's weights
    g = torch.autograd.grad(first["D/r1"], list(model.D.parameters()), allow_unused=True)
    assert any(x is not None and x.abs().sum() > 0 for x in g)
    model.set_step(1)
    assert "D/r1" not in model.phase_losses("D", batch, out).optimise  # lazy: on every 2nd step of the run
    model.set_step(2)
    assert "D/r1" in model.phase_losses("D", batch, out).optimise
    assert "D/r1" not in _model().phase_losses("D", batch, out).optimise  # off by default


def test_spectral_norm_bounds_every_conv_of_d():
    model = _model("model.d_spectral_norm=true")
    plain = _model()
    convs = [m for m in model.D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(torch.nn.utils.parametrize.is_parametrized(c, "weight") for c in convs)
    for c in convs:
        sigma = torch.linalg.matrix_norm(c.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, rel=0.05)
    assert not any(torch.nn.utils.parametrize.is_parametrized(m) for m in plain.D.modules())
    with pytest.raises(ConfigError, match="spectral norm undoes"):
        load_config("smoke", ["model.d_spectral_norm=true", "coop.enabled=true", "coop.steps=2",
                              "coop.switch=calibrate"])


def test_coop_stage_runs_on_a_multiscale_d_with_an_ebm_head():
    from translate.models.coop import CoopModel

    model = _model("model.d_scales=2", "model.ebm_head=true", "coop.enabled=true", "coop.steps=2")
    coop = CoopModel(model, langevin_steps=2)
    batch = _batch()
    out = coop(batch)
    assert out.revised.shape == batch["a"].shape and not torch.equal(out.revised, out.fake_b)
    e = coop.phase_losses("E", batch, out)
    e.total().backward()
    assert all(d.ebm_head.weight.grad is not None for d in model.D.scales)


# ------------------------------------------------------------------ patch choice: QS-Attn, hard negatives

def test_qs_attention_picks_the_most_concentrated_rows():
    from translate.models.networks.patch_sampler import qs_attention

    feat = torch.zeros(2, 4, 3, 3)
    feat[0, :, 1, 1] = torch.tensor([5.0, 0, 0, 0])  # image 0: one distinct location, attending to itself
    feat[1, :, 0, 2] = torch.tensor([0, 6.0, 0, 0])  # image 1: another one
    rows = qs_attention(feat, 2)
    assert rows.shape == (2, 2, 9)
    assert int(rows[0, 0].argmax()) == 4 and int(rows[1, 0].argmax()) == 2  # per image, lowest entropy first
    torch.testing.assert_close(rows.sum(2), torch.ones(2, 2))


def test_qs_sampler_routes_queries_with_the_source_attention():
    from translate.models.networks import PatchSampler, l2_normalize

    torch.manual_seed(0)
    F = PatchSampler([4, 4], nc=8, init_gain=1.0, qs_layers=[False, True])
    src, tgt = [torch.randn(2, 4, 5, 5) for _ in range(2)], [torch.randn(2, 4, 5, 5) for _ in range(2)]
    samples_k, ids = F(src, 6)
    samples_q, ids_q = F(tgt, 6, ids)
    assert ids[0].shape == (6,) and ids[1].shape == (2, 6, 25)  # random layer, QS layer
    assert ids_q[1] is ids[1]
    want = l2_normalize(F.mlps[1]((ids[1] @ tgt[1].flatten(2).transpose(1, 2)).flatten(0, 1)), dim=-1)
    torch.testing.assert_close(samples_q[1], want)
    assert samples_k[1].shape == samples_q[1].shape == (12, 8)
    model = _model("model.patch_select=qs")
    assert model.F.qs_layers == [False, False, False, True, True]  # smoke's input, down1, down2, block1, block2
    batch = _batch()
    out = model(batch)
    assert torch.isfinite(model.phase_losses("G", batch, out).total())
    with pytest.raises(ConfigError, match="names none"):
        load_config("smoke", ["model.patch_select=qs", "model.nce_layers=[input, down1]"])


def test_hard_negatives_weight_the_denominator_by_the_source_relation():
    import math

    from translate.models.losses.patchnce import patchnce_loss
    from translate.models.networks import l2_normalize

    torch.manual_seed(0)
    q, k = l2_normalize(torch.randn(8, 5)), l2_normalize(torch.randn(8, 5))  # B=2 images of P=4 patches
    tau, beta = 0.07, 3.0
    plain = patchnce_loss(q, k, 2, tau)
    torch.testing.assert_close(patchnce_loss(q, k, 2, tau, hard_neg_beta=0.0), plain)
    got = patchnce_loss(q, k, 2, tau, hard_neg_beta=beta)
    want = []
    for b in range(2):
        for i in range(4):
            a = b * 4 + i
            others = [b * 4 + j for j in range(4) if j != i]
            w = torch.softmax(torch.stack([beta * (k[a] @ k[j]) for j in others]), 0) * 3
            pos = torch.exp(q[a] @ k[a] / tau)
            neg = sum(w[n] * torch.exp(q[a] @ k[j] / tau) for n, j in enumerate(others))
            neg = neg + math.exp(-10 / tau)  # the masked diagonal, as in plain PatchNCE
            want.append(-torch.log(pos / (pos + neg)))
    torch.testing.assert_close(got, torch.stack(want))
    assert not torch.allclose(got, plain)
    batch_mode = patchnce_loss(q, k, 2, tau, negatives="batch", hard_neg_beta=beta)
    assert batch_mode.shape == (8,) and torch.isfinite(batch_mode).all()
    assert _model("model.nce_hard_neg_beta=2").nce_hard_neg_beta == 2.0
