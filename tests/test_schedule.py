"""The LR schedule against the CUT reference's 'linear' policy, and how train.steps meets a preset in epochs."""
import pytest

from translate.config import load_config
from translate.engine.optim import lr_factor
from translate.engine.run import resolve_schedule


def reference_linear(epoch_1based: int, n_epochs: int, n_epochs_decay: int) -> float:
    # The reference's LambdaLR: epoch e (from 1) runs at 1 - max(0, e - n_epochs) / (n_epochs_decay + 1).
    return 1.0 - max(0, epoch_1based - n_epochs) / float(n_epochs_decay + 1)


def test_per_epoch_factor_matches_the_reference_epoch_by_epoch():
    per_epoch, n_epochs, n_decay = 100, 10, 5
    total, decay = per_epoch * (n_epochs + n_decay), per_epoch * n_decay
    for step in range(total):
        expected = reference_linear(step // per_epoch + 1, n_epochs, n_decay)
        assert lr_factor(step, total, decay, every=per_epoch) == pytest.approx(expected)
    assert lr_factor(total - 1, total, decay, every=per_epoch) == pytest.approx(1 / 6)  # last epoch: lr / 6


def test_per_step_factor_is_the_reference_policy_with_one_step_epochs():
    total, decay = 1500, 500
    for step in (0, 999, 1000, 1250, 1499):
        assert lr_factor(step, total, decay) == pytest.approx(reference_linear(step + 1, total - decay, decay))
    assert lr_factor(1499, total, decay) == pytest.approx(1 / 501)


def test_steps_alone_keep_an_epoch_presets_decay_share():
    cut = load_config("cut", ["train.steps=3000"])  # cut.yaml: 400 epochs, the last 200 decaying
    assert resolve_schedule(cut.train, n_a=1000, global_batch=1) == (3000, 1500)
    explicit = load_config("cut", ["train.steps=3000", "train.decay_steps=100"])
    assert resolve_schedule(explicit.train, n_a=1000, global_batch=1) == (3000, 100)
    no_decay = load_config("cut", ["train.steps=3000", "train.decay_epochs=0"])
    assert resolve_schedule(no_decay.train, n_a=1000, global_batch=1) == (3000, 0)
    demo = load_config("demo")
    assert resolve_schedule(demo.train, n_a=400, global_batch=4) == (1500, 500)


def test_trainer_holds_the_lr_for_an_epoch_with_lr_per_epoch(data_home, tmp_path):
    import json

    from train_helpers import make_trainer

    # smoke: 12 A images at batch 2 = 6 steps per epoch; 18 steps, the last 12 (two epochs) decaying
    sets = ["dataset=demo", "train.device=cpu", "train.steps=18", "train.decay_steps=12", "train.lr_per_epoch=true",
            "train.sample_every=0", "train.ckpt_every=0"]
    cfg = load_config("smoke", sets)
    make_trainer(cfg, tmp_path / "run").fit()
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    base = cfg.train.lr
    assert lrs == pytest.approx([base] * 6 + [base * 2 / 3] * 6 + [base / 3] * 6)
    with pytest.raises(Exception, match="whole epochs of 6 steps"):
        make_trainer(load_config("smoke", sets + ["train.steps=10", "train.decay_steps=4"]), tmp_path / "bad")
