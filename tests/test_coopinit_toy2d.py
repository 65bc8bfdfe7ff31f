"""benchmarks/coopinit_toy2d.py: its mode metrics on hand-made samples, and a few-step end-to-end run."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy():
    return load_benchmark("coopinit_toy2d")


@pytest.mark.parametrize("name,k,sigma", [("ring", 8, 0.02), ("grid", 25, 0.05)])
def test_mode_metrics_on_hand_made_samples(toy, name, k, sigma):
    means, s = toy.mixture(name)
    assert len(means) == k and s == sigma
    at_centres = means.repeat(10, 1)  # 10 samples on every mode
    m = toy.mode_metrics(at_centres, means, sigma)
    assert m["modes"] == k and m["hq"] == 1.0 and m["kl"] == pytest.approx(0.0, abs=1e-12)
    # Real data of the mixture is almost all high quality (3σ in 2-D holds 98.9 % of a Gaussian).
    data = toy.sample_mixture(means, sigma, 5000, torch.Generator().manual_seed(0))
    m = toy.mode_metrics(data, means, sigma)
    assert m["modes"] == k and 0.97 < m["hq"] < 1.0 and m["kl"] < 0.02
    far = means[:1] + torch.tensor([[0.5, 0.5]]) + torch.zeros(40, 2)  # 0.7 from a mode: far beyond 3σ
    m = toy.mode_metrics(far, means, sigma)
    assert m["modes"] == 0 and m["hq"] == 0.0 and m["kl"] == pytest.approx(math.log(k))
    half = toy.mode_metrics(torch.cat([means[: k // 2].repeat(3, 1), far]), means, sigma)
    assert half["modes"] == k // 2 and half["kl"] == pytest.approx(math.log(k / (k // 2)))
    assert half["hq"] == pytest.approx(3 * (k // 2) / (3 * (k // 2) + 40))
    # A mode needs min_count high-quality samples.
    one_each = toy.mode_metrics(torch.cat([means, means[:2]]), means, sigma, min_count=2)
    assert one_each["modes"] == 2


def test_seed_runs_do_not_depend_on_their_batch(toy):
    """A seed batched with others draws the same init, data and z as alone (bit-identical over a short run;
    over thousands of steps GAN dynamics can amplify the batched matmul's rounding, so only the distribution
    over seeds is comparable between batchings)."""
    s = toy.Settings(steps=16, coop_steps=6, batch=16, hidden=8)
    alone = toy.train("ring", "coop", [1], s)[0]
    batched = toy.train("ring", "coop", [4, 1], s)[1]
    assert alone["seed"] == batched["seed"] == 1
    assert alone["switch"] == batched["switch"] and alone["end"] == batched["end"]


def test_script_runs_end_to_end_with_the_projects_losses(toy, tmp_path, monkeypatch, capsys):
    calls = {"teach": 0, "ebm": 0, "langevin": 0}

    def counting(name, fn):
        def wrapped(*a, **kw):
            calls[name] += 1
            return fn(*a, **kw)
        return wrapped

    monkeypatch.setattr(toy, "teach_loss", counting("teach", toy.teach_loss))
    monkeypatch.setattr(toy, "ebm_ml_loss", counting("ebm", toy.ebm_ml_loss))
    monkeypatch.setattr(toy, "langevin_revise", counting("langevin", toy.langevin_revise))
    out, png = tmp_path / "toy.json", tmp_path / "toy.png"
    argv = ["--datasets", "ring,grid", "--methods", "gan,coop", "--seeds", "0,1", "--steps", "12",
            "--coop_steps", "4", "--batch", "16", "--hidden", "8", "--cell", "coop_ref:normalize=0,sigma=0.016",
            "--json", str(out), "--picture", str(png)]
    assert toy.main(argv) == 0
    # 2 datasets x 2 coop variants x 4 stage steps, plus the picture's 2 coop runs of 4 steps on seed 0.
    assert calls["teach"] == calls["ebm"] == calls["langevin"] == 2 * 2 * 4 + 2 * 4
    result = json.loads(out.read_text())
    runs = result["runs"]
    assert sorted({(r["dataset"], r["method"]) for r in runs}) == [
        ("grid", "coop"), ("grid", "coop_ref"), ("grid", "gan"), ("ring", "coop"), ("ring", "coop_ref"),
        ("ring", "gan")]
    assert len(runs) == 12 and result["settings"]["steps"] == 12
    for r in runs:
        k = 8 if r["dataset"] == "ring" else 25
        for at in ("switch", "end"):
            assert 0 <= r[at]["modes"] <= k and 0.0 <= r[at]["hq"] <= 1.0 and 0.0 <= r[at]["kl"] <= math.log(k) + 1e-9
            assert sum(r[at]["counts"]) == round(r[at]["hq"] * 2500)
    ref = next(r for r in runs if r["method"] == "coop_ref")
    assert ref["overrides"] == {"normalize": False, "sigma": 0.016} and ref["base_method"] == "coop"
    assert "| coop_ref | 2 |" in capsys.readouterr().out
    from PIL import Image
    with Image.open(png) as img:
        assert img.size[1] > 3 * 100 and png.stat().st_size < 300_000  # 3 rows of panels, small

    # Finished runs are read back, not retrained; other settings start afresh.
    monkeypatch.setattr(toy, "train", lambda *a, **kw: pytest.fail("a finished run was retrained"))
    assert toy.main([a for a in argv if a not in ("--picture", str(png))]) == 0
    assert json.loads(out.read_text())["runs"] == runs


def test_bad_options_fail_with_one_line(toy, tmp_path):
    with pytest.raises(SystemExit, match="--cell 'bogus:x=1'"):
        toy.main(["--cell", "bogus:x=1", "--steps", "2"])
    with pytest.raises(SystemExit, match="unknown key 'x'"):
        toy.main(["--cell", "coop_a:x=1", "--steps", "2"])
    with pytest.raises(SystemExit, match="--datasets"):
        toy.main(["--datasets", "moons", "--steps", "2"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="bad.json"):
        toy.main(["--json", str(bad), "--steps", "2"])
