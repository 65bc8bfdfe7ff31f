"""Mixed precision and memory format on CPU: bf16 autocast, fp16 with the grad scaler, channels_last.

bf16 autocast works on CPU and is tested against fp32 on the full CUT objective. fp16 autocast also runs on
CPU. PatchNCE used to be NaN there from the first step (F's outputs are ~1e-4 at init and their squares
underflow in fp16, since CPU autocast keeps ``pow``/``sum`` in fp16), until F's L2 normalisation moved to fp32;
a test below covers the full objective in fp16. The scaler tests use the GAN objective alone
(model.lambda_nce=0), which exercises autocast and the GradScaler wiring of both phases.
"""
import math

import pytest
import torch

from translate.config import load_config
from translate.engine.device import resolve_precision
from train_helpers import make_trainer

STEPS = 5


def _trainer(tmp_path, *overrides):
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", *overrides])
    return make_trainer(cfg, tmp_path)


def _run(tmp_path, *overrides, steps=STEPS):
    """Losses of ``steps`` steps on one fixed batch (the same for every precision), and the trainer."""
    trainer = _trainer(tmp_path, *overrides)
    batch = next(iter(trainer.loader))
    return [trainer.train_step(batch) for _ in range(steps)], trainer


def _mean(records, key):
    return sum(r[key] for r in records) / len(records)


def test_auto_precision_is_fp32_on_cpu():
    assert resolve_precision("auto", torch.device("cpu")) == torch.float32
    assert resolve_precision("bf16", torch.device("cpu")) == torch.bfloat16


@pytest.mark.slow
def test_bf16_losses_stay_finite_and_close_to_fp32(data_home, tmp_path):
    ref, _ = _run(tmp_path / "fp32", "train.precision=fp32")
    bf16, trainer = _run(tmp_path / "bf16", "train.precision=bf16")
    assert trainer.dtype == torch.bfloat16 and not trainer.scaler.is_enabled()
    assert all(math.isfinite(v) for r in bf16 for v in r.values())
    # Step 1 runs the same weights: only rounding differs. It must differ (autocast really ran), but little.
    rel = abs(bf16[0]["G/nce_idt"] - ref[0]["G/nce_idt"]) / ref[0]["G/nce_idt"]
    assert 1e-6 < rel < 1e-2
    for key in ref[0]:
        assert bf16[0][key] == pytest.approx(ref[0][key], rel=1e-2, abs=1e-4), key
    # Later steps drift (Adam's first steps are sign(gradient), and rounding flips the sign of tiny gradients),
    # but training proceeds alike: the mean losses of steps 2-5 agree within 15 % (measured: 1-6 %).
    for key in ("D/real", "G/gan", "G/nce", "G/nce_idt"):
        assert _mean(bf16[1:], key) == pytest.approx(_mean(ref[1:], key), rel=0.15), key
    assert _mean(bf16[1:], "G/nce") < 0.6 * bf16[0]["G/nce"]  # it learns


@pytest.mark.slow
def test_fp16_full_objective_stays_finite_and_close_to_fp32(data_home, tmp_path):
    ref, _ = _run(tmp_path / "fp32", "train.precision=fp32", steps=3)
    fp16, trainer = _run(tmp_path / "fp16", "train.precision=fp16", steps=3)
    assert trainer.dtype == torch.float16 and trainer.scaler.is_enabled()
    assert all(math.isfinite(v) for r in fp16 for v in r.values())
    for key in ("G/nce", "G/nce_idt", "D/real"):
        assert fp16[0][key] == pytest.approx(ref[0][key], rel=2e-2, abs=1e-3), key


@pytest.mark.slow
def test_fp16_with_grad_scaler_trains_the_gan_objective(data_home, tmp_path):
    gan_only = ["model.lambda_nce=0", "train.precision=fp16"]
    ref, _ = _run(tmp_path / "fp32", "model.lambda_nce=0", "train.precision=fp32", steps=8)
    fp16, trainer = _run(tmp_path / "fp16", *gan_only, steps=8)
    assert trainer.dtype == torch.float16 and trainer.scaler.is_enabled()
    assert all(math.isfinite(v) for r in fp16 for v in r.values())
    for key in ref[0]:
        assert fp16[0][key] == pytest.approx(ref[0][key], rel=1e-2, abs=1e-4), key
    # The scaler starts at 2**16 and halves on each overflowing step until gradients fit in fp16.
    assert trainer.scaler.get_scale() < 2.0**16
    assert fp16[-1]["D/real"] < 0.8 * fp16[0]["D/real"]  # D learns despite the skipped steps


def test_fp16_overflowing_step_changes_no_weights_and_halves_the_scale(data_home, tmp_path):
    trainer = _trainer(tmp_path, "model.lambda_nce=0", "train.precision=fp16")
    trainer.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # scaled fp16 gradients surely overflow
    before = {k: v.clone() for k, v in trainer.networks.state_dict().items()}
    trainer.train_step(next(iter(trainer.loader)))
    for k, v in trainer.networks.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert trainer.scaler.get_scale() == 2.0**39


@pytest.mark.slow
def test_fp16_scaler_state_is_checkpointed(data_home, tmp_path):
    trainer = _trainer(tmp_path, "model.lambda_nce=0", "train.precision=fp16")
    trainer.train_step(next(iter(trainer.loader)))
    trainer.scaler.update(1024.0)
    trainer.save(tmp_path / "ckpt" / "latest.pt")
    resumed = make_trainer(trainer.cfg, tmp_path, resume=True)
    assert resumed.scaler.get_scale() == 1024.0


def test_channels_last_matches_contiguous(data_home, tmp_path):
    ref, _ = _run(tmp_path / "nchw", "train.channels_last=false", steps=2)
    cl, trainer = _run(tmp_path / "nhwc", "train.channels_last=true", steps=2)
    assert trainer.networks.G.encoder.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert cl[0] == pytest.approx(ref[0], rel=1e-5, abs=1e-6)
    assert cl[1] == pytest.approx(ref[1], rel=2e-3, abs=1e-5)  # one Adam step later: rounding noise


def test_channels_last_with_a_batch_of_one_matches_contiguous(data_home, tmp_path):
    """nn.InstanceNorm2d's CPU backward is wrong at batch 1 for channels-last gradients (PyTorch 2.14), which
    made channels_last refused there; the networks' InstanceNorm (group norm per channel) is not."""
    ref, _ = _run(tmp_path / "nchw", "train.channels_last=false", "data.batch_size=1", steps=2)
    cl, _ = _run(tmp_path / "nhwc", "train.channels_last=true", "data.batch_size=1", steps=2)
    assert cl[0] == pytest.approx(ref[0], rel=1e-5, abs=1e-6)
    assert cl[1] == pytest.approx(ref[1], rel=2e-3, abs=1e-5)
