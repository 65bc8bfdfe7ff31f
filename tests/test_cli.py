"""The CLI end to end on smoke.yaml: train, apply, resume, and one-line errors."""
import pytest
import shlex
import subprocess
import sys

import numpy as np
from PIL import Image


def translate(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "translate", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.mark.slow
def test_train_then_apply(data_home, tmp_path):
    run = tmp_path / "run"
    res = translate("train", "demo", "--config", "smoke", "--out", str(run), "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert (run / "ckpt" / "latest.pt").is_file() and (run / "config.yaml").is_file()
    assert (run / "samples" / "step_6.png").is_file() and (run / "log.jsonl").is_file()
    assert "step/s" in res.stderr and "left" in res.stderr
    last = res.stderr.strip().splitlines()[-4:]  # the end-of-train lines: samples, and the commands to try it
    assert last[1].startswith(f"samples: {run / 'samples'}/ (latest: step_6.png")
    assert last[2].endswith(f"translate demo --ckpt {run}")
    apply_cmd = shlex.split(last[3].split(":", 1)[1])
    assert apply_cmd[:3] == ["translate", "apply", "--ckpt"] and apply_cmd[3] == str(run / "ckpt" / "latest.pt")
    res = translate(*apply_cmd[1:])  # the printed command, as printed: it translates the test images
    assert res.returncode == 0, res.stderr
    assert len(list((run / "translated").glob("*.png"))) == 6

    src = tmp_path / "in"
    src.mkdir()
    for name, size in [("x.png", (45, 31)), ("y.jpg", (64, 64))]:
        Image.fromarray((np.random.default_rng(1).random((size[1], size[0], 3)) * 255).astype(np.uint8)).save(src / name)
    out = tmp_path / "out"
    res = translate("apply", "--ckpt", str(run / "ckpt" / "latest.pt"), str(src), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["x.png", "y.png"]
    assert Image.open(out / "x.png").size == (45, 31)

    (src / "bad.png").write_text("nope")
    res = translate("apply", "--ckpt", str(run), str(src), "--out", str(tmp_path / "out2"))
    assert res.returncode == 1 and "bad.png" in res.stderr
    assert len(list((tmp_path / "out2").iterdir())) == 2

    res = translate("train", "demo", "--out", str(run), "--resume", "--set", "train.steps=8", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "resumed" in res.stderr and (run / "samples" / "step_8.png").is_file()


def test_errors_are_one_line_without_traceback(data_home, tmp_path):
    res = translate("train", "demo", "--config", "smoke", "--set", "model.ngff=3", "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "unknown config key 'model.ngff'" in res.stderr
    assert "Traceback" not in res.stderr
    res = translate("train", str(tmp_path / "nowhere"), "--config", "smoke")
    assert res.returncode == 2 and "nowhere" in res.stderr and "Traceback" not in res.stderr
    res = translate("apply", "--ckpt", str(tmp_path / "none.pt"), ".", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "none.pt" in res.stderr and "Traceback" not in res.stderr
