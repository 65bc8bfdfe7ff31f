"""Resume equivalence: N steps straight equals N/2 steps, Ctrl-C, resume, N/2 steps (also with lazy R1, whose
every-k-th-step schedule must not restart with the process)."""
import json

import pytest
import torch

from translate.runfolder.schema import load_checkpoint
from translate.config import load_config
from train_helpers import make_trainer


def _losses(run_dir):
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if "/" in k} for r in records}


@pytest.mark.slow
@pytest.mark.parametrize("levers", [[], ["model.lambda_r1=10.0", "model.r1_every=2"]], ids=["plain", "lazy_r1"])
def test_interrupted_and_resumed_run_matches_a_straight_run(data_home, tmp_path, ctrl_c_at, levers):
    overrides = ["dataset=demo", "train.device=cpu", "train.ckpt_every=100", "train.ema=0.9", *levers]
    cfg = load_config("smoke", overrides)
    straight = make_trainer(cfg, tmp_path / "straight")
    assert straight.fit() is True

    first = make_trainer(cfg, tmp_path / "resumed")
    first.hooks.append(ctrl_c_at(3))
    assert first.fit() is False  # stopped cleanly after finishing step 3 (odd: lazy R1 is due on even steps)
    assert first.step == 3
    first.save(tmp_path / "resumed" / "ckpt" / "latest.pt")

    second = make_trainer(cfg, tmp_path / "resumed", resume=True)
    assert second.step == 3 and second.current_lr == straight.cfg.train.lr
    assert second.fit() is True and second.step == 6

    a = load_checkpoint(tmp_path / "straight" / "ckpt" / "latest.pt")
    b = load_checkpoint(tmp_path / "resumed" / "ckpt" / "latest.pt")
    for net in ("G", "D", "F", "G_ema"):
        for key, value in a["models"][net].items():
            torch.testing.assert_close(b["models"][net][key], value, rtol=1e-5, atol=1e-6, msg=f"{net}.{key}")
    for phase in ("D", "G"):
        exp_avg_a = [s["exp_avg"] for s in a["optim"][phase]["state"].values()]
        exp_avg_b = [s["exp_avg"] for s in b["optim"][phase]["state"].values()]
        for x, y in zip(exp_avg_a, exp_avg_b):
            torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-7)
    la, lb = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    for step in (4, 5, 6):
        for key, value in la[step].items():
            assert abs(lb[step][key] - value) < 1e-4 * max(1.0, abs(value)), (step, key)


@pytest.mark.slow
def test_lr_schedule_is_constant_then_linear_decay(data_home, tmp_path):
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "train.steps=6", "train.decay_steps=2"])
    trainer = make_trainer(cfg, tmp_path / "run")
    trainer.fit()
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    base = cfg.train.lr
    assert lrs[:4] == [base] * 4
    assert lrs[4:] == pytest.approx([base * 2 / 3, base / 3])
