"""benchmarks/curve_table.py: the figures against steps, averaged over runs step by step."""
from __future__ import annotations

import json

from benchmark_scripts import load_benchmark


def _run(folder, records):
    folder.mkdir()
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_steps_are_averaged_over_the_runs_that_have_them(tmp_path, capsys):
    curve = load_benchmark("curve_table")
    a = _run(tmp_path / "a_s0", [{"step": 750, "shape_iou": 0.5, "gt_bg_l1": 0.04, "mode_accuracy": 1.0},
                                 {"step": 1500, "shape_iou": 0.6, "gt_bg_l1": 0.03}])
    b = _run(tmp_path / "a_s1", [{"step": 750, "shape_iou": 0.7, "gt_bg_l1": 0.02, "mode_accuracy": 0.5}])
    assert curve.main([str(a), str(b), "--per-run"]) == 0
    rows = capsys.readouterr().out.splitlines()
    header = rows[0].split(" | ")
    step750 = dict(zip(header, rows[2].split(" | ")))
    assert step750["runs"] == "2" and step750["shape_iou"] == "0.600 ± 0.141"
    assert step750["gt_bg_l1"] == "0.0300 ± 0.0141" and step750["mode_accuracy"] == "0.75 ± 0.35"
    assert step750["kid"] == ""  # a figure no run recorded stays empty
    assert "| a_s0 | 750 | 1 |" in rows[3] and "| a_s1 | 750 | 1 |" in rows[4]
    step1500 = next(r for r in rows if r.startswith("|  | 1500 "))
    assert "| 1 |" in step1500 and "0.600 |" in step1500  # one run: its value, no spread


def test_a_folder_without_evaluations_is_a_one_line_error(tmp_path, capsys):
    curve = load_benchmark("curve_table")
    (tmp_path / "empty").mkdir()
    assert curve.main([str(tmp_path / "empty")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "empty/metrics.jsonl" in line and "train.eval_every" in line
