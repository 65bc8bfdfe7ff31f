"""CoopInit end to end on the CLI (the CI smoke run), and test-time refinement with the checkpoint's D."""
import pytest
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from translate.apply import translate_tensor
from translate.runfolder.schema import load_checkpoint, save_checkpoint
from translate.runfolder.translator import load_translator
from translate.models.coop import build_refiner


def translate(*args):
    return subprocess.run([sys.executable, "-m", "translate", *args], capture_output=True, text=True, timeout=300)


def test_refiner_changes_the_output_and_keeps_its_shape(smoke_run):
    t = load_translator(smoke_run / "ckpt" / "latest.pt", with_discriminator=True)
    G, D = t.G, t.D
    x = torch.rand(2, 3, 23, 37) * 2 - 1  # odd size: padded for G and D, cropped back
    plain = translate_tensor(G, x, torch.device("cpu"))
    refined = translate_tensor(G, x, torch.device("cpu"), refine=build_refiner(D, steps=3, step_size=0.05))
    assert refined.shape == plain.shape == x.shape
    assert (refined - plain).abs().mean() > 1e-3 and refined.abs().max() <= 1.0
    assert not any(p.requires_grad for p in D.parameters())


@pytest.mark.slow
def test_cli_coop_train_then_refine(data_home, tmp_path):
    run = tmp_path / "run"
    res = translate("train", "demo", "--config", "smoke", "--out", str(run), "--device", "cpu",
                    "--set", "coop.enabled=true", "--set", "coop.steps=3", "--set", "coop.langevin_steps=2")
    assert res.returncode == 0, res.stderr
    assert "switching from stage 'coop' to 'cut'" in res.stderr
    assert load_checkpoint(run / "ckpt" / "latest.pt")["stage"] == "cut"

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray((np.random.default_rng(0).random((30, 45, 3)) * 255).astype(np.uint8)).save(src / "x.png")
    outs = {}
    for name, extra in [("plain", []), ("refined", ["--refine-steps", "4", "--refine-step-size", "0.05"])]:
        res = translate("apply", "--ckpt", str(run), str(src), "--out", str(tmp_path / name), *extra)
        assert res.returncode == 0, res.stderr
        outs[name] = np.asarray(Image.open(tmp_path / name / "x.png"), dtype=int)
    assert outs["plain"].shape == outs["refined"].shape == (30, 45, 3)
    assert np.abs(outs["plain"] - outs["refined"]).mean() > 0.5

    state = load_checkpoint(run / "ckpt" / "latest.pt")
    del state["models"]["D"]
    save_checkpoint(state, tmp_path / "no_d.pt")
    res = translate("apply", "--ckpt", str(tmp_path / "no_d.pt"), str(src), "--out", str(tmp_path / "o"),
                    "--refine-steps", "2")
    assert res.returncode == 2 and "no discriminator" in res.stderr and "Traceback" not in res.stderr
