"""SANTA (models/santa.py, models/networks/santa_generator.py): the second one-sided model behind the contract."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as Fn

from translate.config import SANTA_IGNORES, config_to_dict, load_config
from translate.errors import ConfigError
from translate.models.contract import TranslationModel
from translate.models.cut import build_generator, build_model
from translate.models.losses.mask import edge_aware_smoothness
from translate.models.networks.santa_generator import SantaGenerator
from translate.models.santa import SantaModel
from translate.runfolder.schema import checkpoint_config

SANTA = ["model.name=santa"]


def _santa(*overrides) -> SantaModel:
    torch.manual_seed(0)
    return build_model(load_config("smoke", [*SANTA, *overrides]).model)


def _batch(n=2, size=32):
    torch.manual_seed(1)
    return {"a": torch.rand(n, 3, size, size) * 2 - 1, "b": torch.rand(n, 3, size, size) * 2 - 1}


def test_generator_translates_at_d_one_and_interpolates_its_style():
    G = SantaGenerator(ngf=8, n_blocks=2)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        G.domain_embedding.weight.copy_(torch.randn(2, 8))
        h = G.encode_latent(x)
        y = G(x)
        torch.testing.assert_close(y, G.decode(h, torch.ones(2)))
        assert y.shape == x.shape and y.abs().max() <= 1
        assert not torch.allclose(G.decode(h, torch.zeros(2)), y)  # d = 0 decodes elsewhere
        e = G.domain_embedding.weight
        torch.testing.assert_close(G.style(torch.tensor([0.5])), ((e[0] + e[1]) / 2)[None])
        _, path = G.decode(h, torch.ones(2), with_path=True)
    assert [f.shape[1] for f in path] == [32, 16, 8, 3]  # first decoder block, two up convs, output conv
    assert [f.shape[1] for f in G.encode(x, ["input", "down2", "block1"])] == G.feature_channels(
        ["input", "down2", "block1"]) == [3, 32, 32]


def test_santa_objective_terms_are_the_papers():
    model = _santa()
    assert isinstance(model, SantaModel) and isinstance(model, TranslationModel)
    batch = _batch()
    model.eval()  # no latent noise: the terms can be recomputed by hand
    out = model(batch)
    G = model.G
    h = G.encode_latent(torch.cat([batch["a"], batch["b"]]))
    rec = G.decode(h[:2], torch.zeros(2))
    losses = model.phase_losses("G", batch, out).optimise
    assert set(losses) == {"G/gan", "G/rec", "G/idt", "G/kl", "G/path"}
    torch.testing.assert_close(losses["G/rec"], 5.0 * Fn.l1_loss(rec, batch["a"]))
    torch.testing.assert_close(losses["G/idt"], 5.0 * Fn.l1_loss(G.decode(h[2:], torch.ones(2)), batch["b"]))
    torch.testing.assert_close(losses["G/kl"], 0.01 * h.square().mean())
    torch.testing.assert_close(out.fake_b, G(batch["a"]))
    model.train()
    noisy = model(batch)  # in training the latents get N(0, 1) noise
    assert not torch.allclose(noisy.fake_b, out.fake_b)


def test_path_length_measures_how_the_decoder_moves_along_d():
    model = _santa()
    latent = model.G.encode_latent(_batch()["a"])
    with torch.no_grad():
        model.G.domain_embedding.weight.copy_(torch.randn(2, 8))
    energy = model.path_loss(latent)
    assert energy > 0
    grads = torch.autograd.grad(energy, [model.G.domain_embedding.weight, model.G.ups[0].norm.fc.weight])
    assert all(g.abs().sum() > 0 for g in grads)
    with torch.no_grad():
        model.G.domain_embedding.weight[1] = model.G.domain_embedding.weight[0]  # the decoder ignores d
        assert float(model.path_loss(latent)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("mask", [False, True])
def test_coop_stage_runs_on_santa_through_the_contract(data_home, mask):
    from translate.datasets.sources import resolve_source
    from translate.engine.stages import build_stages

    masked = ["model.g_mask=true", "model.santa.lambda_mask=0.1"] if mask else []
    cfg = resolve_source(load_config("smoke", [*SANTA, "dataset=demo", "coop.enabled=true", "coop.steps=2",
                                              "coop.langevin_steps=2", *masked]))
    networks = build_model(cfg.model)
    coop, cut = [s.model for s in build_stages(cfg, networks, 6)]
    assert cut is networks and isinstance(coop, TranslationModel)
    batch = _batch()
    out = coop(batch)
    extra = {"rec_a", "mu", "latent_a", "skips_a"} | ({"l1_images", "mask_b"} if mask else set())
    assert set(out.extra) == extra and out.revised.shape == batch["a"].shape
    e = coop.phase_losses("E", batch, out)
    g = coop.phase_losses("G", batch, out)
    assert {"G/teach", "G/rec", "G/idt", "G/kl", "G/path"} | ({"G/mask"} if mask else set()) == set(g.optimise)
    g.total().backward()
    assert networks.G.domain_embedding.weight.grad is not None
    assert torch.isfinite(e.total())


def test_santa_config_preset_and_loader():
    cfg = load_config("santa_demo")
    assert cfg.model.name == "santa" and cfg.model.ngf == load_config("demo").model.ngf
    assert isinstance(build_generator(cfg.model), SantaGenerator)  # what apply, eval and the demo load
    assert type(build_model(load_config("smoke").model)).__name__ == "CUTModel"  # the default is unchanged
    with pytest.raises(ConfigError, match="model.santa.lambda_path"):
        load_config("smoke", [*SANTA, "model.santa.lambda_path=-1"])


# A value away from the default for each option SANTA ignores (translate/config/checks.py SANTA_IGNORES).
IGNORED = {"lambda_nce": "10.0", "nce_idt": "false", "nce_t": "0.1", "flip_equivariance": "true",
           "nce_negatives": "batch", "patch_select": "qs", "nce_hard_neg_beta": "1.0"}


def test_santa_refuses_the_options_it_would_ignore():
    assert set(IGNORED) == set(SANTA_IGNORES)
    for name, value in IGNORED.items():
        with pytest.raises(ConfigError) as err:
            load_config("smoke", [*SANTA, f"model.{name}={value}", "model.nce_layers=[input, down1, block1]"])
        msg = str(err.value)
        assert msg.startswith(f"model.{name}={value}: no effect with model.name=santa") and "\n" not in msg, msg
        assert f"--set model.{name}=" in msg and "model.name=cut" in msg
        load_config("smoke", [f"model.{name}={value}", "model.nce_layers=[input, down1, block1]"])  # CUT uses it
    load_config("santa_demo", ["model.num_patches=8"])  # F's sizes, which size presets set: allowed
    # a checkpoint from before the check (an ignored option in its config) still loads, at the defaults
    state = {"config": config_to_dict(load_config("smoke", SANTA))}
    state["config"]["model"]["flip_equivariance"] = True
    assert checkpoint_config(state).model.flip_equivariance is False


def test_santa_ignored_option_is_a_one_line_cli_error(data_home, tmp_path):
    from test_cli import translate

    res = translate("train", "demo", "--config", "smoke", "--set", "model.name=santa", "--set",
                    "model.nce_hard_neg_beta=0.5", "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "model.nce_hard_neg_beta=0.5: no effect with model.name=santa" in line
    assert "--set model.nce_hard_neg_beta=0.0" in line and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_santa_trains_saves_and_applies(data_home, tmp_path):
    from train_helpers import make_trainer
    from translate.runfolder.translator import load_translator

    trainer = make_trainer(load_config("smoke", [*SANTA, "dataset=demo", "train.device=cpu", "train.steps=4",
                                                 "coop.enabled=true", "coop.steps=2", "coop.langevin_steps=2"]),
                           tmp_path)
    trainer.fit()
    loaded = load_translator(tmp_path / "ckpt" / "latest.pt")
    G = loaded.G
    assert isinstance(G, SantaGenerator) and loaded.cfg.model.name == "santa"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(G(x), trainer.networks.G.eval()(x))


def test_calibrated_switch_keeps_santas_objective(data_home):
    from translate.datasets.folder import resolve_layout
    from translate.datasets.sources import resolve_source
    from translate.engine.stages import build_stages
    from translate.models.contract import StageContext
    from translate.models.coop import CalibratedCUT

    cfg = resolve_source(load_config("smoke", [*SANTA, "dataset=demo", "coop.enabled=true", "coop.steps=2",
                                              "coop.switch=calibrate", "coop.calib_images=2"]))
    networks = build_model(cfg.model)
    stage = build_stages(cfg, networks, 6, resolve_layout(cfg.data.root))[-1]
    model = stage.model
    assert isinstance(model, CalibratedCUT) and isinstance(model, SantaModel) and model.G is networks.G
    head = networks.D.gan_head.weight.detach().clone()
    model.on_stage_start(StageContext(torch.device("cpu"), stage.images))
    assert not torch.equal(head, networks.D.gan_head.weight)  # the shared D was calibrated
    batch = _batch()
    assert "G/path" in model.phase_losses("G", batch, model(batch)).optimise  # SANTA's terms, not CUT's


def test_cut_refuses_santa_options_it_would_ignore():
    with pytest.raises(ConfigError) as err:
        load_config("smoke", ["model.santa.lambda_path=0.1", "model.santa.noise_std=0"])
    msg = str(err.value)
    assert msg.startswith("model.santa.lambda_path=0.1, model.santa.noise_std=0") and "\n" not in msg, msg
    assert "no effect with model.name=cut" in msg and "--set model.name=santa" in msg
    load_config("smoke", [*SANTA, "model.santa.lambda_path=0.1"])  # SANTA uses it
    # a CUT checkpoint from before the check still loads, with the santa block at its defaults
    state = {"config": config_to_dict(load_config("smoke"))}
    state["config"]["model"]["santa"]["lambda_path"] = 0.5
    assert checkpoint_config(state).model.santa.lambda_path == 0.01


def test_santa_generator_with_one_downsampling_keeps_the_trunk_at_half_resolution():
    """model.n_downsampling=1 works for SANTA's G as for CUT's: the trunk at H/2, one upsampling stage, the same
    output size; the demo's NCE layers (down2 among them) are not checked, since SANTA builds no F."""
    cfg = load_config("santa_demo", ["model.n_downsampling=1"])  # the preset's own setting since it won 5/5
    G = build_generator(cfg.model)
    assert isinstance(G, SantaGenerator) and G.multiple == 2 and len(G.ups) == 1
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    h = G.encode_latent(x)
    assert h.shape == (2, 2 * cfg.model.ngf, 16, 16)
    y, path = G.decode(h, torch.ones(2), with_path=True, source=x)  # the preset's G is masked: it blends with x
    assert y.shape == x.shape and len(path) == 3  # first decoder block, one upsampling conv, output conv
    assert torch.equal(G(x), y)
    default = build_generator(load_config("santa_demo", ["model.n_downsampling=2"]).model)  # the paper's G
    assert default.multiple == 4 and len(default.ups) == 2
    assert sum(p.numel() for p in G.parameters()) < sum(p.numel() for p in default.parameters())


@pytest.mark.parametrize("skip", ["add", "concat"])
@pytest.mark.parametrize("n_down", [1, 2])
def test_santa_generator_skips_feed_the_decoder_and_train(skip, n_down):
    """model.g_skip for SANTA's G: each upsampling stage's output meets the encoder map of its resolution; the
    skips bypass the latent, so G(x) equals decode(encode_latent) only with the collected maps passed on."""
    model = _santa(f"model.g_skip={skip}", f"model.n_downsampling={n_down}")
    G = model.G
    assert G.skip == skip and len(G.skip_from) == n_down
    x = _batch()["a"]
    skips: dict = {}
    h = G.encode_latent(x, skips)
    assert sorted(skips) == sorted(G.skip_from)
    y = G.decode(h, torch.ones(2), skips=skips)
    assert y.shape == x.shape and torch.equal(G(x), y)
    with pytest.raises(ValueError, match="skip connections"):
        G.decode(h, torch.ones(2))
    changed = {k: v + 1 for k, v in skips.items()}
    assert not torch.allclose(G.decode(h, torch.ones(2), skips=changed), y)  # the decoder reads them
    model.train()
    out = model(_batch())
    losses = model.phase_losses("G", _batch(), out).optimise
    assert set(losses) == {"G/gan", "G/rec", "G/idt", "G/kl", "G/path"}
    sum(losses.values()).backward()
    assert G.encoder.stem[0].weight.grad.abs().sum() > 0


def test_santa_generator_skip_kinds_change_only_the_channels_they_must():
    """add needs no new parameters (the default G and an add G have the same count); concat doubles the input
    of the output conv. (That the default G is built as before is held by the bundled model loading strictly.)"""
    torch.manual_seed(0)
    G = SantaGenerator(ngf=8, n_blocks=2)
    assert G.skip == "none" and G.out[1].in_channels == 8
    assert sum(p.numel() for p in G.parameters()) == sum(
        p.numel() for p in SantaGenerator(ngf=8, n_blocks=2, skip="add").parameters())
    assert G.out[1].in_channels * 2 == SantaGenerator(ngf=8, n_blocks=2, skip="concat").out[1].in_channels


@pytest.mark.parametrize("l1_on", ["content", "output", "both", "split"])
def test_masked_santa_generator_blends_with_the_encoded_image(l1_on):
    """model.g_mask on SANTA's G: decode needs the encoded image (source) and returns it where the mask is off;
    G(x) is decode(encode_latent(x), 1, source=x); SANTA's objective trains the mask channel."""
    model = _santa("model.g_mask=true", "model.n_downsampling=1", f"model.santa.l1_on={l1_on}")
    G = model.G
    assert G.mask and G.out[1].out_channels == 4
    x = _batch()["a"]
    h = G.encode_latent(x)
    with pytest.raises(ValueError, match="model.g_mask"):
        G.decode(h, torch.ones(2))
    y = G.decode(h, torch.ones(2), source=x)
    assert y.shape == x.shape and torch.equal(G(x), y)
    model.train()
    out = model(_batch())
    losses = model.phase_losses("G", _batch(), out).optimise
    assert set(losses) == {"G/gan", "G/rec", "G/idt", "G/kl", "G/path"}
    sum(losses.values()).backward()
    assert G.out[1].weight.grad[3].abs().sum() > 0
    with torch.no_grad():
        G.out[1].bias[3] = -1e4
        torch.testing.assert_close(G.decode(h, torch.zeros(2), source=x), x)  # d = 0 too: the input itself
    raw = G.decode(h, torch.ones(2), raw=True)
    assert raw.shape == (2, 4, 32, 32)


def test_santa_l1_terms_read_the_content_or_the_blended_output():
    """model.santa.l1_on with a masked G: with the mask shut, rec and idt on the output are zero (the input
    itself) and ask nothing of the latent; on the content (the default) they still do, and fake_b is the
    blended translation either way. Without a mask the option is refused in one line."""
    terms = {}
    for l1_on in ("content", "output", "both", "split"):
        model = _santa("model.g_mask=true", "model.n_downsampling=1", f"model.santa.l1_on={l1_on}")
        with torch.no_grad():
            model.G.out[1].bias[3] = -1e4  # the mask shut everywhere
        batch = _batch()
        out = model(batch)
        torch.testing.assert_close(out.fake_b, batch["a"])
        terms[l1_on] = model.nce_losses(out)
    assert terms["output"]["G/rec"].item() == 0 and terms["output"]["G/idt"].item() == 0
    assert terms["content"]["G/rec"].item() > 0.01 and terms["content"]["G/idt"].item() > 0.01
    for name in ("G/rec", "G/idt"):  # both: the content's term plus the output's (zero here); same draws
        assert terms["both"][name].item() == pytest.approx(terms["content"][name].item())
    # split: rec on the content (> 0 here), idt on the output (the input itself: 0)
    assert terms["split"]["G/rec"].item() == pytest.approx(terms["content"]["G/rec"].item())
    assert terms["split"]["G/idt"].item() == 0
    with pytest.raises(ConfigError, match="model.santa.l1_on=output: no effect without a masked G"):
        load_config("smoke", [*SANTA, "model.santa.l1_on=output"])


def test_mask_weight_charges_the_translations_mean_mask():
    """model.santa.lambda_mask: G/mask is λ·mean(m) over the translations' masks (A at d = 1), so it pulls the
    mask shut where the GAN does not need it open; off (no term) by default, refused without a masked G."""
    model = _santa("model.g_mask=true", "model.n_downsampling=1", "model.santa.lambda_mask=0.5")
    with torch.no_grad():
        model.G.out[1].bias[3] = 2.0  # m = sigmoid(2 + small) where the mask channel's weights add little
    batch = _batch()
    out = model(batch)
    term = model.nce_losses(out)["G/mask"]
    assert term.item() == pytest.approx(0.5 * out.extra["mask_b"].mean().item())
    assert 0.5 * 0.8 < term.item() < 0.5 * 0.95  # sigmoid(2) = 0.88
    term.backward()
    assert model.G.out[1].bias.grad[3] > 0  # descending it shuts the mask
    assert "G/mask" not in _santa("model.g_mask=true", "model.n_downsampling=1").nce_losses(out)
    with pytest.raises(ConfigError, match="model.santa.lambda_mask=0.5: no effect without a masked G"):
        load_config("smoke", [*SANTA, "model.santa.lambda_mask=0.5"])


def test_edge_aware_mask_smoothness_charges_mask_steps_away_from_the_inputs_edges():
    """models/losses/mask.py: a mask whose border is the object's costs almost nothing; the same mask a pixel
    wider (a halo over flat background) or one with a hole inside a flat region costs its steps in full."""
    x = -torch.ones(1, 3, 16, 16)
    x[..., 4:12, 4:12] = 0.6  # a flat object on a flat background
    on_border = (x[:, :1] > 0).float()
    wide = torch.zeros(1, 1, 16, 16)
    wide[..., 3:13, 3:13] = 1
    holed = on_border.clone()
    holed[..., 7, 7] = 0
    assert edge_aware_smoothness(on_border, x).item() < 1e-6
    # the wide mask's 40 unit steps over flat background, of 2·16·15 neighbour pairs
    assert edge_aware_smoothness(wide, x).item() == pytest.approx(40 / 480, rel=1e-5)
    assert edge_aware_smoothness(holed, x).item() == pytest.approx(4 / 480, rel=1e-5)
    with pytest.raises(ValueError, match="differ in size"):
        edge_aware_smoothness(wide, x[..., :8, :8])


def test_mask_edge_weight_reaches_the_mask_channel():
    """model.santa.lambda_mask_edge: G/mask_edge is λ·edge_aware_smoothness(mask of the translations, real A);
    its gradient reaches G's mask channel; off (no term) by default, refused without a masked G or below 0."""
    model = _santa("model.g_mask=true", "model.n_downsampling=1", "model.santa.lambda_mask_edge=2")
    batch = _batch()
    out = model(batch)
    term = model.nce_losses(out)["G/mask_edge"]
    assert term.item() == pytest.approx(2 * edge_aware_smoothness(out.extra["mask_b"], batch["a"]).item())
    term.backward()
    assert model.G.out[1].weight.grad[3].abs().sum() > 0
    assert "G/mask_edge" not in _santa("model.g_mask=true", "model.n_downsampling=1").nce_losses(out)
    with pytest.raises(ConfigError, match="model.santa.lambda_mask_edge=2.0: no effect without a masked G"):
        load_config("smoke", [*SANTA, "model.santa.lambda_mask_edge=2"])
    with pytest.raises(ConfigError, match="model.santa.lambda_mask_edge: expected zero"):
        load_config("smoke", [*SANTA, "model.g_mask=true", "model.santa.lambda_mask_edge=-1"])


def test_mask_head_reads_the_input_into_the_masks_logit():
    """model.santa.mask_input: the mask's logit gains a term from a conv head on the input image at full
    resolution, zero at the start (G's output is the plain masked G's), trained by the objective; SANTA's path
    features leave it out (it does not depend on d); refused without a masked G."""
    plain = _santa("model.g_mask=true", "model.n_downsampling=1")
    model = _santa("model.g_mask=true", "model.n_downsampling=1", "model.santa.mask_input=true")
    G = model.G
    assert G.mask_head is not None and plain.G.mask_head is None
    G_same = SantaGenerator(ngf=8, n_blocks=2, n_downsampling=1, mask=True)
    G_same.load_state_dict({k: v for k, v in G.state_dict().items() if not k.startswith("mask_head")})
    x = _batch()["a"]
    with torch.no_grad():
        torch.testing.assert_close(G(x), G_same(x))  # the head starts at zero
        G.mask_head[-1].bias.fill_(-1e4)  # the head alone shuts the mask: the output is the input
        torch.testing.assert_close(G(x), x)
        torch.testing.assert_close(G.translation_mask(x), torch.zeros(2, 1, 32, 32))
        G.mask_head[-1].bias.zero_()
    _, path = G.decode(G.encode_latent(x), torch.ones(2), with_path=True, raw=True)
    _, path_same = G_same.decode(G_same.encode_latent(x), torch.ones(2), with_path=True, raw=True)
    torch.testing.assert_close(path[-1], path_same[-1])
    with pytest.raises(ValueError, match="pass the encoded images as source"):
        G.decode(G.encode_latent(x), torch.ones(2), raw=True)
    model.train()
    batch = _batch()
    losses = model.phase_losses("G", batch, model(batch)).optimise
    sum(losses.values()).backward()
    assert G.mask_head[-1].weight.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="model.santa.mask_input=true: no effect without a masked G"):
        load_config("smoke", [*SANTA, "model.santa.mask_input=true"])
    with pytest.raises(ValueError, match="needs mask=True"):
        SantaGenerator(ngf=8, n_blocks=2, mask_input=True)


def test_late_mask_price_takes_over_at_its_step():
    """model.santa.mask_late_step / lambda_mask_late: G/mask is lambda_mask·mean(m) before the step and
    lambda_mask_late·mean(m) from it on (the step the trainer tells set_step); the two go together."""
    model = _santa("model.g_mask=true", "model.n_downsampling=1", "model.santa.lambda_mask=0.1",
                   "model.santa.mask_late_step=500", "model.santa.lambda_mask_late=0.3")
    out = model(_batch())
    mean_m = out.extra["mask_b"].mean().item()
    for step, weight in ((0, 0.1), (499, 0.1), (500, 0.3), (1499, 0.3)):
        model.set_step(step)
        assert model.nce_losses(out)["G/mask"].item() == pytest.approx(weight * mean_m)
    with pytest.raises(ConfigError, match="set both"):
        load_config("smoke", [*SANTA, "model.g_mask=true", "model.santa.mask_late_step=500"])
    with pytest.raises(ConfigError, match="model.santa.mask_late_step=500: no effect without a masked G"):
        load_config("smoke", [*SANTA, "model.santa.mask_late_step=500", "model.santa.lambda_mask_late=0.3"])
