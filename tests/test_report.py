"""`translate report RUN`: plots and the best/last table."""
import json

from PIL import Image

from translate.cli import main
from translate.metrics.plots import PANEL_H, PANEL_W, Panel, nice_ticks, save_panels


def test_nice_ticks_cover_the_range_with_round_steps():
    ticks = nice_ticks(0.013, 0.87)
    assert ticks[0] <= 0.013 and ticks[-1] >= 0.87 and len(ticks) <= 7
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and steps.pop() in (0.1, 0.2, 0.5)
    assert len(nice_ticks(3.0, 3.0)) >= 2  # a flat series still gets an axis


def test_panels_grid_size_and_marked_point(tmp_path):
    panels = [Panel("a", [(1, 1.0), (2, 0.5)], mark=(2, 0.5)), Panel("b", []), Panel("c", [(1, float("nan"))]),
              Panel("d", [(0, 2.0), (10, 3.0)])]
    path = save_panels(panels, tmp_path / "p.png", columns=3, title="t")
    with Image.open(path) as img:
        assert img.size == (3 * PANEL_W, 2 * PANEL_H + 28)
        rgb = img.convert("RGB")
        assert (214, 39, 40) in {c for _, c in rgb.getcolors(1 << 16)}  # the red best-point ring is drawn


def _write_run(run_dir):
    (run_dir / "ckpt").mkdir(parents=True)
    logs = [{"step": s, "stage": "cut", "lr": 2e-4, "G/nce": 3.0 / s, "D/real": 0.5} for s in range(1, 7)]
    logs.append({"step": 6, "stage": "cut", "lr": 1e-4, "G/nce": 0.1, "D/real": 0.4})  # rewritten after a resume
    (run_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in logs))
    evals = [{"step": 2, "fid": 30.0, "kid": 0.020, "kid_std": 0.001, "features": "tiny", "n_images": 4},
             {"step": 4, "fid": 20.0, "kid": 0.012, "kid_std": 0.001, "features": "tiny", "n_images": 4},
             {"step": 6, "fid": 25.0, "kid": 0.015, "kid_std": 0.002, "features": "tiny", "n_images": 4}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evals))
    (run_dir / "ckpt" / "best_kid.pt").write_bytes(b"")


def test_report_states_best_and_last_steps(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    assert main(["report", str(run_dir)]) == 0
    text = (run_dir / "report.md").read_text()
    assert text in capsys.readouterr().out
    assert "| FID [tiny features] | 25.00 | 6 | 20.00 | 4 | (not kept: add it to eval.best) |" in text
    assert "| KID x 10^3 [tiny features] | 15.00 ± 2.00 | 6 | 12.00 ± 1.00 | 4 | `ckpt/best_kid.pt` |" in text
    assert "not Inception" in text and "Trained to step 6" in text
    with Image.open(run_dir / "losses.png") as img:  # G/nce, D/real, learning rate: one row of 3 panels
        assert img.size[0] == 3 * PANEL_W
    with Image.open(run_dir / "metrics.png") as img:  # fid, kid
        assert img.size[0] == 2 * PANEL_W


def test_report_without_evaluations_and_on_empty_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    (run_dir / "metrics.jsonl").unlink()
    assert main(["report", str(run_dir), "--out", str(tmp_path / "r")]) == 0
    assert "train.eval_every" in (tmp_path / "r" / "report.md").read_text()
    assert (tmp_path / "r" / "losses.png").is_file() and not (tmp_path / "r" / "metrics.png").exists()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "log.jsonl" in capsys.readouterr().err
