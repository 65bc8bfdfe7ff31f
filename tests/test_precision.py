"""The mixed-precision policy (translate.models.precision): the parts it names run in fp32 under bf16 autocast."""
import pytest
import torch

from translate.config import load_config
from translate.models.cut import build_model
from translate.models.precision import DEFAULT_FP32, PARTS, fp32_parts


@pytest.fixture(scope="module")
def model_and_features():
    torch.manual_seed(0)
    cfg = load_config("smoke")
    model = build_model(cfg.model)
    real, fake = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        feat_k = model.G.encode(real, model.nce_layers)
        feat_q = model.G.encode(fake, model.nce_layers)
    return model, fake, feat_k, feat_q


def _nce(model, fake, feat_k, feat_q, amp: bool, parts) -> float:
    torch.manual_seed(1)  # the same patch ids for every call
    with fp32_parts(parts), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        return float(model.nce_loss(feat_k, fake, False, feat_q).detach())


def test_nce_under_bf16_autocast_matches_fp32_with_the_policy_only(model_and_features):
    """From the same fp32 features, PatchNCE under bf16 autocast is fp32's loss when the policy keeps it in fp32;
    without it, F's projection and the logits q·k/τ run in bf16 and the loss moves by far more."""
    assert "nce" in DEFAULT_FP32
    ref = _nce(*model_and_features, amp=False, parts=())
    kept = _nce(*model_and_features, amp=True, parts=DEFAULT_FP32)
    plain = _nce(*model_and_features, amp=True, parts=())
    assert abs(kept - ref) < 1e-6 * abs(ref)
    assert abs(plain - ref) > 3e-5 * abs(ref)  # 1.7e-4 with torch 2.14 on CPU


def test_gan_and_norm_parts_run_in_fp32_under_autocast(model_and_features):
    model = model_and_features[0]
    x = torch.rand(2, 3, 32, 32)
    norm = next(m for m in model.G.modules() if type(m).__name__ == "InstanceNorm")
    h = torch.rand(2, norm.channels, 8, 8).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with fp32_parts(()):
            assert model.D(x).dtype == torch.bfloat16
            assert norm(h).dtype == torch.bfloat16
        with fp32_parts({"gan", "norm"}):
            assert model.D(x).dtype == torch.float32
            assert norm(h).dtype == torch.float32
    with fp32_parts({"gan"}):  # outside autocast nothing changes: fp32 in, fp32 out, the same values
        gan_fp32 = model.D(x)
    with fp32_parts(()):
        assert torch.equal(model.D(x), gan_fp32)


def test_unknown_parts_are_refused():
    with pytest.raises(ValueError, match="unknown fp32 part"):
        with fp32_parts({"adam"}):
            pass
    assert set(DEFAULT_FP32) <= set(PARTS)


@pytest.mark.slow
def test_the_diagnosis_script_runs_both_modes(tmp_path, data_home):
    """benchmarks/bf16_diagnosis.py on the smoke preset: gradients per policy, and the trajectories."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bf16_diagnosis.py"
    spec = importlib.util.spec_from_file_location("bf16_diagnosis", path)
    diagnosis = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diagnosis)
    assert diagnosis.main(["--config", "smoke", "--warm-steps", "0", "--batches", "1",
                           "--json", str(tmp_path / "g.json")]) == 0
    rows = json.loads((tmp_path / "g.json").read_text())["results"]["seed 0, after 0 fp32 steps"]
    assert set(rows) == set(diagnosis.POLICIES) - {"fp32"}
    assert 0.9 < rows["bf16"]["G/nce grad cos G.encoder"] <= 1.0001
    assert diagnosis.main(["--config", "smoke", "--trajectory", "2", "--json", str(tmp_path / "t.json")]) == 0
    runs = json.loads((tmp_path / "t.json").read_text())["results"]["seed 0, 2 steps"]
    assert runs["fp32"]["G weights: distance from fp32 / fp32's movement"] == 0.0
    assert runs["bf16"]["G weights: distance from fp32 / fp32's movement"] > 0.0
