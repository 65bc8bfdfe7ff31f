"""Inference backends (translate/inference.py), translate export, and the speed changes that must not change
results: fused Adam, batched NCE queries and D passes, bf16 detection."""
import numpy as np
import pytest
import torch
from PIL import Image

from translate.cli import main
from translate.config import load_config
from translate.engine import device as device_mod
from translate.engine.optim import build_optimizers
from translate.errors import TranslateError
from translate.inference import ONNX_TOLERANCE, build_backend, resolve_backend
from translate.models.cut import build_generator, build_model

CPU = torch.device("cpu")


def _tiny_G():
    torch.manual_seed(0)
    G = build_generator(load_config("smoke").model).eval()
    for p in G.parameters():  # trained-like weights: outputs far from zero, so differences show
        p.data.normal_(0, 0.2)
    return G


def test_torch_backend_is_G_itself_and_names_are_checked():
    G = _tiny_G()
    assert build_backend(G, "torch", CPU) is G
    with pytest.raises(TranslateError, match="--backend"):
        resolve_backend("tensorrt", CPU)


def test_auto_is_bf16_only_with_amx_and_apply_offers_every_backend(monkeypatch):
    import argparse

    from translate.commands import apply as apply_cmd
    from translate.engine import device as device_mod
    from translate.inference import BACKENDS

    monkeypatch.setattr(device_mod, "cpu_bf16_units", lambda: ["amx_bf16", "avx512_bf16"])
    assert resolve_backend("auto", CPU) == "bf16"
    monkeypatch.setattr(device_mod, "cpu_bf16_units", lambda: ["avx512_bf16"])  # not measured: fp32
    assert resolve_backend("auto", CPU) == "channels_last"
    monkeypatch.setattr(device_mod, "cpu_bf16_units", lambda: [])
    assert resolve_backend("auto", CPU) == "channels_last"
    assert resolve_backend("auto", torch.device("cuda")) == "torch"  # not measured on GPUs: plain G
    sub = argparse.ArgumentParser().add_subparsers()
    apply_cmd.add_parser(sub)
    action = next(a for a in sub.choices["apply"]._actions if a.dest == "backend")
    assert tuple(action.choices) == BACKENDS  # the CLI offers exactly the backends inference.py has


def test_channels_last_backend_matches_fp32():
    G = _tiny_G()
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    with torch.no_grad():
        want, got = G(x), build_backend(G, "channels_last", CPU)(x)
    assert got.dtype == torch.float32 and got.is_contiguous()
    assert (got - want).abs().max().item() < 1e-4
    assert next(G.parameters()).dtype == torch.float32  # the caller's G is left as it was


def test_onnxruntime_matches_pytorch_at_sizes_other_than_the_export_size():
    pytest.importorskip("onnxruntime")  # an optional extra: translate[onnx]
    G = _tiny_G()
    backend = build_backend(G, "onnxruntime", CPU)
    for shape in [(1, 3, 64, 64), (2, 3, 32, 48), (1, 3, 100, 20)]:
        x = torch.rand(shape) * 2 - 1
        with torch.no_grad():
            want = G(x)
        got = backend(x)
        assert got.shape == want.shape
        assert (got - want).abs().max().item() < ONNX_TOLERANCE
        assert want.abs().max().item() > 0.1  # not a trivially zero output


def test_bf16_backend_is_within_its_tolerance_on_the_bundled_model():
    """BF16_TOLERANCE holds for a trained G on the images it was trained for (demo test scenes, 64 px)."""
    import numpy as np

    from translate.datasets.synthetic import _sample_scene, render_scene, scene_rng
    from translate.inference import BF16_TOLERANCE
    from translate.runfolder.bundled import bundled_checkpoint
    from translate.runfolder.translator import load_translator

    if not bundled_checkpoint().is_file():
        pytest.skip("no bundled demo checkpoint")
    t = load_translator(bundled_checkpoint())
    G, cfg = t.G, t.cfg
    scenes = [_sample_scene(scene_rng(cfg.data.synthetic.seed, "A", "test", i), 64, cfg.data.synthetic.n_modes)
              for i in range(8)]
    x = torch.from_numpy(np.stack([render_scene(s, 64, None)[0] for s in scenes])).permute(0, 3, 1, 2)
    x = x.float() / 127.5 - 1
    with torch.no_grad():
        want, got = G(x), build_backend(G, "bf16", CPU)(x)
    diff = (got - want).abs()
    assert got.dtype == torch.float32 and got.shape == want.shape
    largest, mean = BF16_TOLERANCE
    assert diff.max().item() < largest and diff.mean().item() < mean
    assert diff.max().item() > 0  # really ran in bf16


def test_export_writes_onnx_and_never_overwrites(smoke_run, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    out = tmp_path / "g.onnx"
    assert main(["export", str(smoke_run / "ckpt" / "latest.pt"), "--out", str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    before = out.read_bytes()
    assert main(["export", str(smoke_run / "ckpt" / "latest.pt"), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_apply_with_onnxruntime_matches_torch(smoke_run, tmp_path):
    pytest.importorskip("onnxruntime")
    src = tmp_path / "in"
    src.mkdir()
    arr = (np.random.default_rng(0).random((30, 45, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(src / "x.png")
    for backend in ("torch", "onnxruntime"):
        args = ["apply", "--ckpt", str(smoke_run / "ckpt" / "latest.pt"), str(src), "--out", str(tmp_path / backend),
                "--backend", backend, "--device", "cpu"]
        assert main(args) == 0
    a = np.asarray(Image.open(tmp_path / "torch" / "x.png"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "onnxruntime" / "x.png"), dtype=int)
    assert a.shape == b.shape == (30, 45, 3)
    assert np.abs(a - b).max() <= 1  # uint8 rounding of values within ONNX_TOLERANCE


def test_fused_adam_follows_the_loop_adam():
    torch.manual_seed(0)
    model = build_model(load_config("smoke").model)
    fused = build_optimizers(model, 2e-4, (0.5, 0.999))
    assert all(o.defaults["fused"] for o in fused.values())
    params = model.phase_parameters("G")
    copies = [p.detach().clone().requires_grad_() for p in params]
    loop = torch.optim.Adam(copies, lr=2e-4, betas=(0.5, 0.999), foreach=False)
    for _ in range(5):
        for p, c in zip(params, copies):
            p.grad = torch.randn_like(p)
            c.grad = p.grad.clone()
        fused["G"].step()
        loop.step()
    moved = max((p.detach() - c.detach()).abs().max().item() for p, c in zip(params, copies))
    assert moved < 1e-6
    assert set(fused["G"].state_dict()["state"][0]) == set(loop.state_dict()["state"][0])


def _step_outputs(model):
    torch.manual_seed(1)
    batch = {"a": torch.rand(2, 3, 32, 32) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    return model(batch)


def test_batched_nce_queries_and_D_pass_equal_separate_passes():
    torch.manual_seed(0)
    model = build_model(load_config("smoke", ["model.nce_idt=true"]).model)
    out = _step_outputs(model)
    assert out.idt_b is not None
    torch.manual_seed(2)
    batched = model.nce_losses(out)
    torch.manual_seed(2)  # the same patch draws, in the same order: main keys, then identity keys
    main_nce = model.nce_loss(out.feat_k, out.fake_b, out.flipped)
    idt_nce = model.nce_loss(out.feat_k_idt, out.idt_b, out.flipped)
    assert torch.allclose(batched["G/nce"], 0.5 * model.lambda_nce * main_nce, atol=1e-5)
    assert torch.allclose(batched["G/nce_idt"], 0.5 * model.lambda_nce * idt_nce, atol=1e-5)
    (fake,), (real,) = model._discriminate(out.fake_b.detach(), out.real_b)  # one map per scale: one scale
    assert torch.allclose(fake, model.D(out.fake_b.detach()), atol=1e-5)
    assert torch.allclose(real, model.D(out.real_b), atol=1e-5)


def test_bf16_detection_and_the_auto_switch(monkeypatch):
    units = device_mod.cpu_bf16_units()
    assert set(units) <= {"amx_bf16", "avx512_bf16"}
    assert device_mod.resolve_precision("auto", CPU) == torch.float32  # the CPU switch is off
    monkeypatch.setattr(device_mod, "cpu_bf16_units", lambda: ["amx_bf16"])
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    cuda = torch.device("cuda")
    # auto: bf16 on a bf16-capable GPU, fp32 on a CPU even with bf16 units while AUTO_BF16_CPU is off
    assert device_mod.resolve_precision("auto", cuda) == torch.bfloat16
    assert device_mod.resolve_precision("auto", CPU) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert device_mod.resolve_precision("auto", cuda) == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(device_mod, "AUTO_BF16_CUDA", False)
    assert device_mod.resolve_precision("auto", cuda) == torch.float32
    monkeypatch.setattr(device_mod, "AUTO_BF16_CPU", True)
    assert device_mod.resolve_precision("auto", CPU) == torch.bfloat16
    monkeypatch.setattr(device_mod, "cpu_bf16_units", lambda: [])
    assert device_mod.resolve_precision("auto", CPU) == torch.float32
    assert device_mod.resolve_precision("bf16", CPU) == torch.bfloat16
