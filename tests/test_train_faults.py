"""Training faults (issue 11): an existing run, --out a file or unwritable, a full disk during a checkpoint
write, a resume that changes the architecture or ends before the checkpoint's step, a torn log line, SIGTERM,
and the orphaned temp files of a killed save. Each is a one-line error or handled, and nothing is lost."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from translate.atomic import remove_stale_temps
from translate.cli import main
from translate.config import config_to_dict, load_config
from translate.errors import CheckpointError, TranslateError
from translate.runfolder.prepare import prepare_run_folder, writable_folder
from translate.runfolder.schema import load_checkpoint


def _fake_run(root, step=3, **model):
    """A run folder whose checkpoint holds a valid smoke config (and no weights): enough to be refused."""
    cfg = config_to_dict(load_config("smoke", ["dataset=demo", "train.device=cpu"]))
    cfg["model"].update(model)
    (root / "ckpt").mkdir(parents=True)
    torch.save({"format": 1, "stage": "cut", "step": step, "config": cfg, "models": {}}, root / "ckpt" / "latest.pt")
    (root / "log.jsonl").write_text('{"step": 1}\n')
    (root / "config.yaml").write_text("preset: smoke\n")
    return root


def _one_line_error(capsys, rc):
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err and err[-1].startswith("error: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


def test_an_existing_run_is_refused_without_resume(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    message = _one_line_error(capsys, main(["train", "demo", "--config", "smoke", "--out", str(run)]))
    assert "already holds a run" in message and "--resume" in message and "--overwrite" in message
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_overwrite_deletes_only_the_run_files(tmp_path):
    run = _fake_run(tmp_path / "run")
    (run / "samples").mkdir()
    (run / "samples" / "step_3.png").write_bytes(b"png")
    (run / "notes.txt").write_text("mine")
    prepare_run_folder(run, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("flags", [[], ["--resume"]])
def test_out_that_is_a_file_is_refused(tmp_path, capsys, flags):
    out = tmp_path / "file.txt"
    out.write_text("keep me")
    message = _one_line_error(capsys, main(["train", "demo", "--config", "smoke", "--out", str(out), *flags]))
    assert str(out) in message and "is a file" in message and out.read_text() == "keep me"


def test_an_unwritable_out_is_a_one_line_error(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    with pytest.raises(TranslateError, match="cannot write there .Read-only file system"):
        writable_folder(tmp_path / "run")


def test_resume_with_another_architecture_names_the_keys(tmp_path, capsys):
    run = _fake_run(tmp_path / "run")
    rc = main(["train", "--out", str(run), "--resume", "--set", "model.ngf=16", "--set", "model.n_blocks=3"])
    message = _one_line_error(capsys, rc)
    assert "model.ngf (8 in the checkpoint, 16 now)" in message and "model.n_blocks" in message
    rc = main(["train", "--out", str(run), "--resume", "--set", "model.n_downsampling=1", "--set",
               "model.nce_layers=[input, down1, block1]"])
    assert "model.n_downsampling (2 in the checkpoint, 1 now)" in _one_line_error(capsys, rc)


def test_resume_below_the_checkpoint_step_is_refused_and_keeps_the_file(data_home, tmp_path):
    from train_helpers import make_trainer

    run = _fake_run(tmp_path / "run", step=100)
    before = (run / "ckpt" / "latest.pt").read_bytes()
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu"])
    with pytest.raises(CheckpointError, match="at step 100, beyond train.steps=6"):
        make_trainer(cfg, run, resume=True)
    assert (run / "ckpt" / "latest.pt").read_bytes() == before


def test_stale_checkpoint_temps_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = time.time() - 120
    files = {
        f".latest.pt.{dead.pid}.abc123.tmp": (old, False),  # its writer is gone: removed
        f".latest.pt.{dead.pid}.young1.tmp": (time.time(), True),  # gone, but just written: kept a minute
        f".latest.pt.{os.getpid()}.mine12.tmp": (old, True),  # this very process is writing it
        ".step_3.pt.q8x1z.tmp": (time.time() - 7200, False),  # no pid (older versions), two hours old
        ".latest.pt.zz9.tmp": (old, True),  # no pid, two minutes old: maybe still being written
        "notes.tmp": (old - 9999, True),  # not our name
    }
    for name, (mtime, _) in files.items():
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (mtime, mtime))
    remove_stale_temps(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for n, (_, kept) in files.items() if kept)


def test_save_names_its_temp_with_the_pid(tmp_path, monkeypatch):
    from translate.runfolder.schema import save_checkpoint

    seen = []

    def spy(obj, fh):
        seen.append(os.path.basename(os.readlink(f"/proc/self/fd/{fh.fileno()}")))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", spy)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint({"format": 1}, tmp_path / "latest.pt")
    assert seen[0].startswith(f".latest.pt.{os.getpid()}.") and os.listdir(tmp_path) == []


@pytest.mark.slow
def test_full_disk_during_a_checkpoint_write_keeps_the_previous_one(data_home, tmp_path, capsys, monkeypatch):
    real_save, calls = torch.save, []

    def save_then_fill_the_disk(obj, fh, *a, **k):
        calls.append(obj.get("step"))
        if len(calls) > 1:
            fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, fh, *a, **k)

    monkeypatch.setattr(torch, "save", save_then_fill_the_disk)
    run = tmp_path / "run"
    message = _one_line_error(capsys, main(["train", "demo", "--config", "smoke", "--out", str(run), "--device", "cpu"]))
    monkeypatch.undo()
    assert "No space left on device" in message and "previous one is kept" in message and "--resume" in message
    assert load_checkpoint(run / "ckpt" / "latest.pt")["step"] == 3  # the save at step 3 survived
    assert [p.name for p in (run / "ckpt").iterdir()] == ["latest.pt"]


@pytest.mark.slow
def test_resume_cuts_a_torn_log_line(data_home, tmp_path):
    from train_helpers import make_trainer

    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu", "train.steps=3", "train.decay_steps=0"])
    make_trainer(cfg, tmp_path / "run").fit()
    log_file = tmp_path / "run" / "log.jsonl"
    with log_file.open("a") as f:
        f.write('{"step": 4, "G/nc')  # a crash in the middle of a write
    cfg = load_config("smoke", ["dataset=demo", "train.device=cpu"])
    make_trainer(cfg, tmp_path / "run", resume=True).fit()
    steps = [json.loads(line)["step"] for line in log_file.read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_sigterm_saves_and_prints_the_resume_command(data_home, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "translate", "train", "demo", "--config", "smoke", "--out", str(run),
           "--device", "cpu", "--set", "train.steps=100000", "--set", "train.ckpt_every=0",
           "--set", "train.sample_every=0"]
    with open(tmp_path / "stderr.txt", "w") as stderr:  # a file, not a pipe: the progress line never blocks
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.time() + 240
            while not ((run / "log.jsonl").is_file() and (run / "log.jsonl").read_text().count("\n") >= 2):
                assert proc.poll() is None and time.time() < deadline, (tmp_path / "stderr.txt").read_text()
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        finally:
            proc.kill()
    err = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "resume with: translate train demo --out" in err and "Traceback" not in err
    last = json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"]
    assert load_checkpoint(run / "ckpt" / "latest.pt")["step"] == last >= 2


def test_checkpoints_keep_the_usual_file_mode(tmp_path):
    """Issue 11 sweep: checkpoints written through a mkstemp temp file came out 0600."""
    from translate.runfolder.schema import save_checkpoint

    old = os.umask(0o027)
    try:
        path = save_checkpoint({"format": 1}, tmp_path / "latest.pt")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == "0o640"
