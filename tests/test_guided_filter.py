"""The guided filter (models/networks/guided_filter.py) and model.g_mask_guide, which filters a masked G's mask."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as Fn

from translate.config import load_config
from translate.config.checks import validate
from translate.errors import ConfigError
from translate.models.cut import build_model
from translate.models.networks.generator import ResnetGenerator
from translate.models.networks.guided_filter import box_mean, guided_filter
from translate.models.networks.santa_generator import SantaGenerator


def _square_scene(size=32):
    """A blue square on green grass (a guide in [-1, 1]) and its mask (1, 1, size, size)."""
    obj = torch.zeros(1, 1, size, size)
    obj[..., 10:22, 8:20] = 1.0
    grass, blue = torch.tensor([0.2, 0.6, 0.2]), torch.tensor([0.3, 0.4, 0.9])
    image = (grass[:, None, None] * (1 - obj[0]) + blue[:, None, None] * obj[0])[None] * 2 - 1
    return image, obj


def test_a_blurry_mask_of_an_object_snaps_to_its_outline():
    """The masked G's failure in small: a blob a few pixels wider than the object. Filtered with the image as
    guide, its border (m > 0.5) moves onto the object's outline, the ring of background next to the object is
    half as open, no background pixel stays above 0.5, and the object stays open. (The filter does not make the
    mask binary: it spreads part of the blob's excess thinly over the background.)"""
    image, obj = _square_scene()
    blob = box_mean(Fn.max_pool2d(obj, 5, stride=1, padding=2), 2)  # grown by 2 px, then blurred
    snapped = guided_filter(image, blob, radius=4)
    iou = lambda m: float(((m > 0.5) & (obj > 0.5)).sum() / ((m > 0.5) | (obj > 0.5)).sum())  # noqa: E731
    assert iou(blob) < 0.6 and iou(snapped) > 0.99
    ring = (Fn.max_pool2d(obj, 3, stride=1, padding=1) > 0.5) & (obj < 0.5)
    assert snapped[ring].mean() < 0.55 * blob[ring].mean()
    assert blob[obj < 0.5].max() > 0.75 and snapped[obj < 0.5].max() < 0.5
    assert snapped[obj > 0.5].min() > 0.95


def test_flat_guide_gives_the_local_mean_and_a_constant_map_stays():
    """Where the guide has no edges the fit's slope is 0 and the filter is a box mean twice over; a constant map
    is left as it is, whatever the guide."""
    p = torch.rand(1, 1, 16, 16)
    flat = torch.full((1, 3, 16, 16), 0.3)
    torch.testing.assert_close(guided_filter(flat, p, 2), box_mean(box_mean(p, 2), 2), atol=1e-5, rtol=0)
    image, _ = _square_scene(16)
    torch.testing.assert_close(guided_filter(image, torch.full((1, 1, 16, 16), 0.7), 3),
                               torch.full((1, 1, 16, 16), 0.7), atol=1e-4, rtol=0)


def test_radius_zero_is_the_identity_and_bad_shapes_are_refused():
    p = torch.rand(1, 1, 8, 8)
    assert guided_filter(torch.rand(1, 3, 8, 8), p, 0) is p
    with pytest.raises(ValueError, match="radius must be 0 or more"):
        guided_filter(torch.rand(1, 3, 8, 8), p, -1)
    with pytest.raises(ValueError, match="expected a .B, 3, H, W. guide"):
        guided_filter(torch.rand(1, 1, 8, 8), p, 2)


def test_it_is_differentiable_keeps_the_maps_dtype_and_survives_a_radius_wider_than_the_image():
    image, obj = _square_scene(16)
    p = torch.rand(1, 1, 16, 16, requires_grad=True)
    guided_filter(image, p, 2).sum().backward()
    assert p.grad.abs().sum() > 0
    out = guided_filter(image, p.detach().bfloat16(), 2)
    assert out.dtype == torch.bfloat16
    wide = guided_filter(image, obj, 40)  # every window is the whole image, clipped at the border
    assert wide.shape == obj.shape and torch.isfinite(wide).all()


@pytest.mark.parametrize("kind", ["cut", "santa"])
def test_a_guided_g_blends_by_the_filtered_mask(kind):
    """With mask_guide the mask that blends (translation_mask, forward) is the sigmoid of the mask's logit filtered
    with the input as guide; without a mask the option is refused."""
    torch.manual_seed(0)
    make = ResnetGenerator if kind == "cut" else SantaGenerator
    G = make(ngf=8, n_blocks=2, mask=True, mask_guide=3).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        if kind == "cut":
            logits = G._decode(G._run_encoder(x, (), stop_early=False)[0], None)
        else:
            logits = G.decode(G.encode_latent(x, {}), torch.ones(2), source=x, raw=True)
        m, y = G.translation_mask(x), G(x)
    content, raw = torch.tanh(logits[:, :-1]), torch.sigmoid(logits[:, -1:])
    torch.testing.assert_close(m, torch.sigmoid(guided_filter(x, logits[:, -1:], 3)))
    assert not torch.allclose(m, raw)
    torch.testing.assert_close(y, m * content + (1 - m) * x)
    with pytest.raises(ValueError, match="needs mask=True"):
        make(ngf=8, n_blocks=2, mask_guide=3)


@pytest.mark.parametrize("name", ["cut", "santa"])
def test_the_filter_applies_when_g_translates_and_in_training_only_if_asked(name):
    """model.g_mask_guide filters the mask in eval mode (apply, eval, samples, the demo); a training step blends
    by the raw mask unless model.g_mask_guide_train, so the default trains exactly as without the option."""
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    batch = {"a": x, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    base = ["model.g_mask=true", f"model.name={name}", "model.n_layers_d=2"]
    fakes = {}
    for extra in ([], ["model.g_mask_guide=3"], ["model.g_mask_guide=3", "model.g_mask_guide_train=true"]):
        torch.manual_seed(0)
        model = build_model(load_config("smoke", base + extra).model)
        model.train()
        torch.manual_seed(1)
        fakes[len(extra)] = model(batch).fake_b.detach()
        G = model.G
        with torch.no_grad():
            trained_mask = G.translation_mask(x)
            G.eval()
            translating_mask = G.translation_mask(x)
        assert torch.equal(trained_mask, translating_mask) == (len(extra) != 1)
    torch.testing.assert_close(fakes[0], fakes[1], rtol=0, atol=0)  # training unchanged by the test-time filter
    assert not torch.allclose(fakes[0], fakes[2])


def test_the_config_option_reaches_g_and_is_checked():
    cfg = load_config("smoke", ["model.g_mask=true", "model.g_mask_guide=4"])
    assert build_model(cfg.model).G.mask_guide == 4
    santa = load_config("smoke", ["model.name=santa", "model.g_mask=true", "model.g_mask_guide=4"])
    assert build_model(santa.model).G.mask_guide == 4
    for overrides, message in [(["model.g_mask_guide=4"], "model.g_mask_guide=4: it filters a masked G's mask"),
                               (["model.g_mask=true", "model.g_mask_guide=-1"], "model.g_mask_guide: expected zero"),
                               (["model.g_mask=true", "model.g_mask_guide=100000"], "beyond this version's bound"),
                               (["model.g_mask=true", "model.g_mask_guide_train=true"], "no filter to train with")]:
        with pytest.raises(ConfigError, match=message):
            validate(load_config("smoke", overrides))


def test_a_guided_g_exports_to_onnx_and_runs_the_same():
    pytest.importorskip("onnxruntime")  # an optional extra: translate[onnx]
    from translate.inference import export_onnx, onnx_session_fn

    torch.manual_seed(0)
    G = ResnetGenerator(ngf=8, n_blocks=1, mask=True, mask_guide=3).eval()
    run = onnx_session_fn(export_onnx(G))
    x = torch.rand(1, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        want = G(x)
    assert (run(x) - want).abs().max().item() < 1e-4


@pytest.mark.slow  # scores the bundled model on the demo set: seconds, not the fast tier's
def test_test_time_script_filters_the_bundled_model_and_restores_its_radius(data_home, capsys):
    """benchmarks/mask_guide_test_time.py: radius 0 is the model as trained (its mask, its figures), a radius
    changes what it scores, the G's own radius comes back, and a G without a mask is a one-line error."""
    from benchmark_scripts import load_benchmark
    from translate.runfolder.bundled import resolve_checkpoint
    from translate.runfolder.translator import load_translator

    script = load_benchmark("mask_guide_test_time")
    plain, guided = script.figures("demo", [0, 6], n=8)
    assert (plain["radius"], guided["radius"]) == (0, 6) and plain["time"] == 1.0 and guided["time"] > 0
    assert plain["shape_iou"] != guided["shape_iou"] and plain["gt_bg_l1"] != guided["gt_bg_l1"]
    G = load_translator(resolve_checkpoint("demo")).G
    own = G.mask_guide
    with script.guide_radius(G, own + 2):
        assert G.mask_guide == own + 2
    assert G.mask_guide == own
    unmasked = ResnetGenerator(ngf=8, n_blocks=1)
    with pytest.raises(script.TranslateError, match="no mask"), script.guide_radius(unmasked, 3):
        pass
    assert script.main(["demo", "--radius", "0", "--n", "4"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| checkpoint | radius | shape_iou") and table[2].startswith("| demo | 0 | ")
