"""benchmarks/gpu_check.py in its --tiny CPU form, so the first GPU call's script cannot rot."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_scripts import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


def load_gpu_check():
    return load_benchmark("gpu_check")


def _rows(out: Path) -> dict[tuple, dict]:
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["tiny"] and report["machine"]["device"] == "cpu"
    return {(r["kind"], r["name"], r.get("size")): r for r in report["rows"]}


def test_tiny_train_and_apply_rows(tmp_path, data_home, capsys):
    gpu_check = load_gpu_check()
    out = tmp_path / "gc"
    assert gpu_check.main(["--tiny", "--device", "cpu", "--in-process", "--skip", "compile,torchrun,loop",
                           "--out", str(out)]) == 0
    rows = _rows(out)
    for variant, dtype in (("fp32", "float32"), ("bf16", "bfloat16"), ("channels_last", "float32")):
        row = rows[("train", variant, None)]
        assert "error" not in row, row
        assert row["steps_per_s"] > 0 and row["peak_mb"] > 0 and row["dtype"] == dtype and row["finite"]
        assert {"G/nce", "G/gan", "D/real"} <= row["last_losses"].keys()
    for backend in ("auto", "bf16"):
        for size in (32, 64):
            assert rows[("apply", backend, size)]["images_per_s"] > 0
    assert rows[("apply", "bf16", 32)]["resolved"] == "bf16"
    assert not any(kind in ("compile", "torchrun", "loop") for kind, _, _ in rows)
    table = (out / "gpu_check.md").read_text()
    assert "| train | bf16 (bfloat16) | 1 |" in table and "| apply 64 px | bf16 (bf16) |" in table
    assert table in capsys.readouterr().out


def test_a_failing_row_is_reported_and_the_rest_run(tmp_path, data_home, monkeypatch):
    gpu_check = load_gpu_check()
    monkeypatch.setitem(gpu_check.TRAIN_VARIANTS, "bf16", ["train.precision=fp64"])  # not a precision
    out = tmp_path / "gc"
    assert gpu_check.main(["--tiny", "--device", "cpu", "--in-process", "--skip", "compile,torchrun,loop,apply,"
                           "channels_last", "--out", str(out)]) == 0
    rows = _rows(out)
    assert "error" in rows[("train", "bf16", None)] and rows[("train", "fp32", None)]["steps_per_s"] > 0
    assert "failed: " in (out / "gpu_check.md").read_text()


@pytest.mark.slow
def test_tiny_all_rows_in_their_own_processes(tmp_path, data_home):
    """Every row as on a GPU (a process each, torchrun with 2 gloo processes), compile with the eager backend."""
    gpu_check = load_gpu_check()
    out = tmp_path / "gc"
    assert gpu_check.main(["--tiny", "--device", "cpu", "--torchrun", "2", "--out", str(out)]) == 0
    rows = _rows(out)
    failed = {k: r["error"] for k, r in rows.items() if "error" in r}
    assert not failed, failed
    assert rows[("torchrun", "fp32 x2", None)]["processes"] == 2
    assert rows[("loop", "workers 1", None)]["steps_per_s"] > 0
    assert rows[("compile", "compile", None)]["finite"] and rows[("compile", "compile_bf16", None)]["finite"]
