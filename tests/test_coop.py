"""The CoopInit stage in the trainer: stage switch, switch policies, resume across the switch, config checks."""
import json

import pytest
import torch
from PIL import Image

from translate.runfolder.schema import load_checkpoint
from translate.config import load_config
from train_helpers import make_trainer
from translate.errors import ConfigError
from translate.models.coop import affine_calibration

COOP = ["dataset=demo", "train.device=cpu", "coop.enabled=true", "coop.steps=3", "coop.langevin_steps=3",
        "coop.step_size=0.02"]


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_stage_switch_happens_at_the_configured_step(data_home, tmp_path):
    trainer = make_trainer(load_config("smoke", COOP + ["train.sample_every=5"]), tmp_path)
    assert [(s.name, s.start, s.end) for s in trainer.stages] == [("coop", 0, 3), ("cut", 3, 6)]
    assert set(trainer.optimizers) == {"E", "G"}
    trainer.fit()
    records = _records(tmp_path)
    assert [r["stage"] for r in records] == ["coop"] * 3 + ["cut"] * 3
    for r in records[:3]:
        assert {"E/ml", "E/f_real", "E/f_revised", "E/f_initial", "E/energy_gap", "E/pixel_change",
                "G/teach", "G/nce"} <= set(r)
        assert r["E/pixel_change"] > 0
    assert "G/gan" in records[3] and "E/ml" not in records[3]
    assert set(trainer.optimizers) == {"D", "G"}
    # Grids: input | G output | revised for the cooperative stage (written at the switch, although 3 is not
    # a multiple of sample_every), input | output after it.
    width = lambda n: n * (128 + 2) + 2  # noqa: E731 - 32 px crops are shown 4x
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_3.png", "step_5.png", "step_6.png"]
    assert Image.open(tmp_path / "samples" / "step_3.png").size[0] == width(3)
    assert Image.open(tmp_path / "samples" / "step_5.png").size[0] == width(2)


@pytest.mark.slow
def test_coop_fraction_sets_the_stage_length(data_home, tmp_path):
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "coop.enabled=true", "coop.fraction=0.5"])
    assert [(s.name, s.start, s.end) for s in make_trainer(cfg, tmp_path).stages] == [("coop", 0, 3), ("cut", 3, 6)]


@pytest.mark.slow
def test_warmup_and_calibrate_switch_policies(data_home, tmp_path, ctrl_c_at):
    cfg = load_config("smoke", COOP + ["coop.switch=warmup", "coop.warmup_steps=2", "train.steps=7"])
    trainer = make_trainer(cfg, tmp_path / "w")
    trainer.fit()
    assert [r["stage"] for r in _records(tmp_path / "w")] == ["coop"] * 3 + ["warmup"] * 2 + ["cut"] * 2
    assert set(_records(tmp_path / "w")[3]) >= {"D/real", "D/fake"} and "G/gan" not in _records(tmp_path / "w")[3]

    cfg = load_config("smoke", COOP + ["coop.switch=calibrate", "coop.calib_images=4"])
    trainer = make_trainer(cfg, tmp_path / "c")
    last_bias = [m for m in trainer.networks.D.modules() if isinstance(m, torch.nn.Conv2d)][-1].bias
    trainer.hooks.append(ctrl_c_at(3))
    trainer.fit()
    before = last_bias.detach().clone()
    trainer._switch_stage_if_needed()  # the switch itself applies the calibration
    calib = trainer.stage.images  # the fixed images the stage start received (StageContext.images)
    with torch.no_grad():
        d_real, d_fake = trainer.networks.D(calib["b"]), trainer.networks.D(trainer.networks.G(calib["a"]))
    assert not torch.equal(before, last_bias.detach())
    assert float(d_real.mean()) > float(d_fake.mean())
    # the fitted map is the least-squares one: the residual mean on both sets together is zero
    assert (float(d_real.mean()) - 1 + float(d_fake.mean())) / 2 == pytest.approx(0, abs=1e-4)


def test_affine_calibration_maps_separated_scores_to_the_targets():
    a, b = affine_calibration(torch.full((5,), 3.0), torch.full((7,), 1.0), (1.0, 0.0))
    assert a == pytest.approx(0.5) and b == pytest.approx(-0.5)


@pytest.mark.slow
@pytest.mark.parametrize("switch,stop_at,extra", [("calibrate", 2, []), ("warmup", 4, []),
                                                  ("calibrate", 4, ["coop.teach_decay_steps=2", "model.ebm_head=true"])])
def test_resume_across_the_switch_matches_a_straight_run(data_home, tmp_path, switch, stop_at, extra, ctrl_c_at):
    cfg = load_config("smoke", COOP + [f"coop.switch={switch}", "coop.warmup_steps=1", "coop.noise=0.5",
                                       "coop.calib_images=2", "train.ckpt_every=100", "train.steps=7"] + extra)
    straight = make_trainer(cfg, tmp_path / "straight")
    straight.fit()
    first = make_trainer(cfg, tmp_path / "resumed")
    first.hooks.append(ctrl_c_at(stop_at))
    assert first.fit() is False
    first.save(tmp_path / "resumed" / "ckpt" / "latest.pt")
    assert load_checkpoint(tmp_path / "resumed" / "ckpt" / "latest.pt")["stage"] == first.stage.name
    second = make_trainer(cfg, tmp_path / "resumed", resume=True)
    assert second.step == stop_at and second.stage.name == first.stage.name
    assert second.fit() is True
    a = load_checkpoint(tmp_path / "straight" / "ckpt" / "latest.pt")
    b = load_checkpoint(tmp_path / "resumed" / "ckpt" / "latest.pt")
    assert a["stage"] == b["stage"] == "cut"
    for net in ("G", "D", "F"):
        for key, value in a["models"][net].items():
            torch.testing.assert_close(b["models"][net][key], value, rtol=1e-5, atol=1e-6, msg=f"{net}.{key}")


def test_coop_config_errors(data_home, tmp_path):
    with pytest.raises(ConfigError, match="coop.switch"):
        load_config("smoke", ["coop.switch=sudden"])
    with pytest.raises(ConfigError, match="coop.steps"):
        load_config("smoke", ["coop.enabled=true"])
    with pytest.raises(ConfigError, match="coop.warmup_steps"):
        load_config("smoke", ["coop.enabled=true", "coop.steps=2", "coop.switch=warmup"])
    with pytest.raises(ConfigError, match="coop.fraction"):
        load_config("smoke", ["coop.fraction=1.5"])
    with pytest.raises(ConfigError, match="coop.sigma"):
        load_config("smoke", ["coop.sigma=-1"])
    with pytest.raises(ConfigError, match="less than the total"):
        make_trainer(load_config("smoke", COOP + ["train.steps=3"]), tmp_path)
