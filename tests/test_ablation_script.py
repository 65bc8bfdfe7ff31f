"""benchmarks/coopinit_ablation.py and coopinit_diagnosis.py on a toy task, so the scripts cannot rot."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_ablation_runs_both_methods_resumes_and_diagnoses(tmp_path, data_home, monkeypatch, capsys):
    ablation = load_script("coopinit_ablation")
    out = tmp_path / "abl"
    argv = ["--tiny", "--seeds", "0", "--out", str(out), "--eval-every", "8", "--json", str(tmp_path / "a.json"),
            "--cell", "cut_batchneg:model.nce_negatives=batch"]
    assert ablation.main(argv) == 0
    runs = json.loads((tmp_path / "a.json").read_text())["runs"]
    assert sorted(r["method"] for r in runs) == ["coop", "cut", "cut_batchneg"]
    for r in runs:
        assert 0.0 <= r["mode_accuracy"] <= 1.0 and r["kid"] == r["kid"] and isinstance(r["collapsed"], bool)
    assert next(r for r in runs if r["method"] == "coop")["stage_s"].keys() == {"coop", "cut"}
    table = capsys.readouterr().out
    assert "| coop | 1 |" in table and "Per-seed paired differences" in table and "| cut_batchneg | 0 |" in table

    # Finished cells are read back, never retrained.
    monkeypatch.setattr(ablation, "train_and_score", lambda *a: pytest.fail("a finished cell was retrained"))
    assert ablation.main(argv) == 0
    assert json.loads((tmp_path / "a.json").read_text())["runs"] == runs

    diagnosis = load_script("coopinit_diagnosis")
    png = tmp_path / "diag.png"
    grid = tmp_path / "grid.png"
    assert diagnosis.main([str(out / "cut_s0"), str(out / "coop_s0"), "--names", "cut,coop", "--out", str(png),
                           "--samples", str(grid)]) == 0
    printed = capsys.readouterr().out
    assert png.stat().st_size > 10_000 and "| coop |" in printed and "| cut |" in printed
    from PIL import Image

    with Image.open(grid) as sheet, Image.open(sorted((out / "cut_s0" / "samples").glob("*.png"))[-1]) as one:
        assert sheet.width > 2 * one.width and sheet.height > one.height
