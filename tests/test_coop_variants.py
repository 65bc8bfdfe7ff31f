"""CoopInit variants: a separate EBM head on D's trunk (model.ebm_head) and teaching that decays into CUT
training (coop.teach_decay_steps)."""
import json

import pytest
import torch

from translate.config import load_config
from train_helpers import make_trainer
from translate.errors import ConfigError
from translate.models.networks import PatchDiscriminator
from translate.runfolder.translator import load_translator

COOP = ["dataset=demo", "train.device=cpu", "coop.enabled=true", "coop.steps=3", "coop.langevin_steps=3",
        "coop.step_size=0.02"]


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def test_ebm_head_shares_the_trunk_and_leaves_the_gan_head_alone():
    torch.manual_seed(0)
    D = PatchDiscriminator(ndf=8, ebm_head=True)
    x = torch.randn(2, 3, 32, 32)
    gan = D(x)
    with torch.no_grad():
        D.ebm_head.weight.add_(1.0)
    assert torch.equal(D(x), gan)  # the GAN head's output ignores the EBM head
    assert not torch.allclose(D.ebm_scores(x), gan)
    D.ebm_scores(x).sum().backward()
    assert D.model[-1].weight.grad is None  # GAN head untouched by the EBM ...
    assert D.ebm_head.weight.grad.abs().sum() > 0 and D.model[0].weight.grad.abs().sum() > 0  # ... trunk shared
    plain = PatchDiscriminator(ndf=8)
    assert plain.ebm_head is None and torch.equal(plain.ebm_scores(x), plain(x))


@pytest.mark.slow
def test_coop_stage_trains_the_ebm_head_and_cut_the_gan_head(data_home, tmp_path, ctrl_c_at):
    cfg = load_config("smoke", COOP + ["model.ebm_head=true"])
    trainer = make_trainer(cfg, tmp_path)
    D = trainer.networks.D
    gan0, ebm0 = D.model[-1].weight.detach().clone(), D.ebm_head.weight.detach().clone()
    trainer.hooks.append(ctrl_c_at(3))
    trainer.fit()  # stops at the switch
    assert torch.equal(D.model[-1].weight, gan0) and not torch.equal(D.ebm_head.weight, ebm0)
    ebm3 = D.ebm_head.weight.detach().clone()
    resumed = make_trainer(cfg, tmp_path, resume=True)
    assert resumed.fit() is True
    D = resumed.networks.D
    assert not torch.equal(D.model[-1].weight, gan0) and torch.equal(D.ebm_head.weight, ebm3)
    t = load_translator(tmp_path / "ckpt" / "latest.pt", with_discriminator=True)
    D_loaded = t.D
    assert D_loaded.ebm_head is not None  # the checkpoint's config rebuilds the same D


@pytest.mark.slow
def test_teaching_decays_into_cut_training(data_home, tmp_path):
    cfg = load_config("smoke", COOP + ["coop.teach_decay_steps=2", "train.steps=7"])
    trainer = make_trainer(cfg, tmp_path)
    trainer.fit()
    records = _records(tmp_path)
    assert [r["stage"] for r in records] == ["coop"] * 3 + ["cut"] * 4
    assert [r.get("G/teach_weight") for r in records[3:]] == [1.0, 0.5, None, None]
    assert all("G/teach" in r and "G/gan" in r for r in records[3:5])
    assert all("G/teach" not in r for r in records[5:])


def test_taught_cut_weight_falls_linearly_to_zero():
    from translate.models.coop import TaughtCUT

    taught = TaughtCUT(torch.nn.Identity(), None, start=10, decay_steps=4)
    weights = []
    for step in range(9, 16):
        taught.set_step(step)
        weights.append(taught.weight())
    assert weights == [1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_variant_config_errors():
    with pytest.raises(ConfigError, match="model.ebm_head"):
        load_config("smoke", ["model.ebm_head=true"])
    with pytest.raises(ConfigError, match="coop.teach_decay_steps"):
        load_config("smoke", ["coop.teach_decay_steps=-1"])
