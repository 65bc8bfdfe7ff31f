"""benchmarks/coopinit_ablation.py and coopinit_diagnosis.py on a toy task, so the scripts cannot rot."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


load_script = load_benchmark


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

    # --merge reads an --out folder's finished runs as it reads a --json file.
    capsys.readouterr()
    assert ablation.main(["--merge", str(out)]) == 0
    assert "| cut_batchneg | 1 |" in capsys.readouterr().out

    # --rescore brings a run trained before a figure existed up to date, from its kept checkpoint.
    old = {k: v for k, v in json.loads((out / "cut_s0.json").read_text()).items() if k != "shape_iou"}
    (out / "cut_s0.json").write_text(json.dumps({**old, "mode_accuracy": -1.0}))
    assert ablation.main(["--tiny", "--rescore", str(out)]) == 0
    again = json.loads((out / "cut_s0.json").read_text())
    first = next(r for r in runs if r["method"] == "cut")
    assert again["shape_iou"] == first["shape_iou"] and again["mode_accuracy"] == first["mode_accuracy"]
    assert again["train_s"] == first["train_s"]  # what scoring does not measure is kept
    capsys.readouterr()

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


def test_merge_reads_the_parity_scripts_results(tmp_path, capsys):
    """parity_vs_reference.py's results.json (runs keyed NAME_sSEED) merges like the ablation's own files."""
    ablation = load_script("coopinit_ablation")

    def run(trainer, seed, acc, cov):
        return {"trainer": trainer, "seed": seed, "curves": {}, "kid": 0.01, "gt_l1": 0.07, "gt_bg_l1": 0.06,
                "mode_accuracy": acc, "mode_coverage": cov}

    cut = {"runs": {"project_s0": run("project", 0, 0.5, 2 / 3), "reference_s0": run("reference", 0, 0.4, 1 / 3)}}
    coop = {"runs": {"coop_len10_s0": {**run("project", 0, 0.7, 1.0), "train_s": 12.0},  # a figure the others lack
                     "reference_s0": run("reference", 0, 0.4, 1 / 3)}}
    (tmp_path / "cut.json").write_text(json.dumps(cut))
    (tmp_path / "coop.json").write_text(json.dumps(coop))
    rows = ablation.merged_runs(cut) + ablation.merged_runs(coop)
    assert [(r["method"], r["collapsed"]) for r in rows] == [("cut", False), ("reference", True),
                                                             ("coop_len10", False), ("reference", True)]
    assert ablation.main(["--merge", str(tmp_path / "cut.json"), str(tmp_path / "coop.json")]) == 0
    out = capsys.readouterr().out
    assert "| reference | 1 | 1 | 1 |" in out  # in both files, counted once; collapsed, so failed too
    assert "nan" not in out and "| 12 ± 0 |" in out  # train_s shown for coop, "-" where no run recorded it
    # shape_iou and mode_accuracy_min: figures these runs lack, blank in the paired table
    assert "| coop_len10 | 0 | +0.0000 | +0.0000 | +0.0000 |  | +0.2000 |  | +0.3333 |" in out
    assert "| cut | 1 | 0 | 0 |" in out and "all_modes" in out
    # one finished cell's own OUT/NAME_sSEED.json merges too; a file without runs is a one-line error
    (tmp_path / "cut_s0.json").write_text(json.dumps({**run("project", 0, 0.5, 2 / 3), "method": "cut"}))
    assert ablation.main(["--merge", str(tmp_path / "cut_s0.json"), str(tmp_path / "coop.json")]) == 0
    assert "| cut | 1 | 0 | 0 |" in capsys.readouterr().out
    assert ablation.main(["--merge", str(tmp_path / "coop.json"), "--base", "reference"]) == 0
    out = capsys.readouterr().out
    assert "| method − reference |" in out
    assert "| coop_len10 | 0 | +0.0000 | +0.0000 | +0.0000 |  | +0.3000 |" in out
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(SystemExit, match="no runs in it"):
        ablation.main(["--merge", str(tmp_path / "bad.json")])


def test_a_diverged_run_counts_as_failed_though_its_modes_read_right():
    """A run whose translations lost the scene (gt_bg_l1 0.30-0.43 at 4x lr) can still read as the right modes."""
    ablation = load_script("coopinit_ablation")
    ok = {"method": "cut", "collapsed": False, "source_share": 0.0, "gt_bg_l1": 0.11, "mode_accuracy": 0.7}
    gone = {**ok, "method": "coop", "gt_bg_l1": 0.396}
    assert not ablation.failed(ok) and ablation.failed(gone) and not ablation.diverged(ok)
    table = ablation.summarise([ok, gone])
    assert table["cut"]["failed"][0] == 0 and table["coop"]["failed"][0] == 1 and table["coop"]["collapsed"][0] == 0
    assert "diverged" in ablation.markdown(table)


def test_an_interrupted_run_is_not_recorded_as_a_finished_cell(tmp_path, data_home, monkeypatch, capsys):
    """SIGTERM or Ctrl-C stops the Trainer early (fit() returns False): that run must be trained again on resume,
    not scored at the step it reached and kept as a result."""
    from translate.engine.trainer import Trainer

    ablation = load_script("coopinit_ablation")
    monkeypatch.setattr(Trainer, "fit", lambda self: False)
    out = tmp_path / "abl"
    assert ablation.main(["--tiny", "--seeds", "0", "--methods", "cut", "--out", str(out)]) == 130
    assert not list(out.glob("*.json")) and "run the same command to resume" in capsys.readouterr().err


def test_supervised_bound_trains_scores_and_keeps_an_earlier_result(tmp_path, data_home, capsys):
    bound = load_script("supervised_bound")
    out = tmp_path / "bound.json"
    assert bound.main(["--config", "smoke", "--set", "train.steps=3", "--set", "train.decay_steps=1",
                       "--json", str(out), "--grid", str(tmp_path / "grid.png")]) == 0
    row = json.loads(out.read_text())["runs"][0]
    assert row["method"] == "supervised" and 0.0 <= row["mode_accuracy"] <= 1.0 and row["gt_l1"] > 0
    assert sum(n for counts in row["read_as"].values() for n in counts.values()) == 6  # smoke's 6 test images
    assert (tmp_path / "grid.png").stat().st_size > 0
    before = out.read_bytes()
    assert bound.main(["--config", "smoke", "--set", "train.steps=3", "--json", str(out)]) == 2
    assert out.read_bytes() == before and "--overwrite" in capsys.readouterr().err
    assert bound.main(["--config", "smoke", "--set", "train.steps=2", "--lambda-gan", "0.01"]) == 0
    assert '"method": "supervised_gan"' in capsys.readouterr().out


def test_reference_options_map_the_upsampler(tmp_path):
    """model.antialias_up=false runs the reference with --no_antialias_up; what it cannot run is refused."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    parity = load_script("parity_vs_reference")
    from parity_reference import reference_args

    from translate.config import load_config

    def args(*sets):
        return reference_args(parity._with_steps(load_config("demo", list(sets))), tmp_path, "ref", tmp_path / "c")

    assert "--no_antialias_up" not in args("model.antialias_up=true")
    assert "--no_antialias_up" in args("model.antialias_up=false")
    assert "--n_epochs=10" in args() and "--n_epochs_decay=5" in args()
    with pytest.raises(ValueError, match="anti-aliased down-sampling"):
        args("model.antialias=false")


def test_cell_overrides_keep_list_values_whole():
    ablation = load_script("coopinit_ablation")
    assert ablation.split_overrides("model.n_downsampling=1,model.nce_layers=[input,down1,block1],train.seed=2") == [
        "model.n_downsampling=1", "model.nce_layers=[input,down1,block1]", "train.seed=2"]
    assert ablation.split_overrides("coop.steps=30") == ["coop.steps=30"]
