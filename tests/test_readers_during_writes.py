"""Readers while a training rewrites RUN/ckpt/latest.pt in a loop (issue 26): apply, eval, export and the demo's
checkpoint picker always load a whole checkpoint, never a torn one. Saves are atomic renames
(translate/atomic.py); a control writer that rewrites the file in place shows the readers would notice."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from translate.app.runs import CheckpointCatalog
from translate.errors import CheckpointError
from translate.runfolder.schema import load_checkpoint, read_checkpoint_info, save_checkpoint
from translate.runfolder.translator import load_translator

sys.path.insert(0, str(Path(__file__).resolve().parent / "faults"))
from fault_concurrency import WRITER  # noqa: E402  (the sweep's checkpoint writer: saves in a loop)


def _g_sum(state_or_G) -> float:
    params = state_or_G["models"]["G"].values() if isinstance(state_or_G, dict) else state_or_G.state_dict().values()
    return float(sum(t.double().sum() for t in params))


class Writer:
    """Rewrites ``path`` in a loop from a thread, each time with another step; ``atomic=False`` writes in place."""

    def __init__(self, state: dict, path: Path, atomic: bool = True):
        self.state, self.path, self.atomic = state, path, atomic
        self.saves, self._stop = 0, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            state = {**self.state, "step": 1000 + self.saves}
            if self.atomic:
                save_checkpoint(state, self.path)
            else:
                with open(self.path, "wb") as fh:  # what a non-atomic save would do
                    torch.save(state, fh)
            self.saves += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(timeout=30)


def _read_while_writing(run: Path, state: dict, atomic: bool, seconds: float = 1.0) -> tuple[int, list[str]]:
    """(reads, problems) of loading the checkpoint as apply, eval, export and the picker do, during writes."""
    want = _g_sum(state)
    ckpt, problems, reads = run / "ckpt" / "latest.pt", [], 0
    catalog = CheckpointCatalog(runs_dir=run.parent)
    with Writer(state, ckpt, atomic) as writer:
        start = time.monotonic()
        # At least `seconds`, 3 reads and 3 saves (a loaded machine is slow), at most a minute.
        while time.monotonic() - start < 60 and (time.monotonic() - start < seconds or reads < 3 or writer.saves < 3):
            try:
                loaded = load_checkpoint(run)  # apply, eval and export read through load_checkpoint
                G = load_translator(ckpt).G
                info = read_checkpoint_info(ckpt, run.name)  # the picker's metadata read (memory-mapped)
                entries = catalog.scan()
                if not (loaded["step"] >= 1000 or loaded["step"] == state["step"]) or abs(_g_sum(loaded) - want) > 1e-6:
                    problems.append(f"a different checkpoint: step {loaded['step']}")
                if abs(_g_sum(G) - want) > 1e-6 or info.step < 1000 and info.step != state["step"]:
                    problems.append("torn weights or metadata")
                if len(entries) != 1:
                    problems.append(f"the picker offered {len(entries)} entries: {catalog.skipped}")
            except CheckpointError as e:
                problems.append(str(e))
            reads += 1
        saves = writer.saves
    assert saves >= 3, "the writer barely wrote: the reads did not overlap the writes"
    return reads, problems


@pytest.fixture
def live_run(smoke_run, tmp_path):
    run = tmp_path / "runs" / "live"
    shutil.copytree(smoke_run / "ckpt", run / "ckpt")
    return run


def test_readers_always_load_a_whole_checkpoint_while_it_is_rewritten(live_run, monkeypatch):
    monkeypatch.setattr("os.fsync", lambda fd: None)  # the rename is under test, not the disk: more saves per second
    state = torch.load(live_run / "ckpt" / "latest.pt", weights_only=True)
    reads, problems = _read_while_writing(live_run, state, atomic=True)
    assert reads >= 3 and problems == []
    assert not [p.name for p in (live_run / "ckpt").iterdir() if p.name.endswith(".tmp")]


def test_the_readers_would_notice_a_checkpoint_written_in_place(live_run):
    """The control: the same readers against a writer that rewrites the file in place see torn files."""
    state = torch.load(live_run / "ckpt" / "latest.pt", weights_only=True)
    state["models"]["G"] = {k: v.repeat_interleave(1, 0) for k, v in state["models"]["G"].items()}
    # Large enough that a read often lands in the middle of a write.
    state["pad"] = torch.zeros(4_000_000)
    for attempt in range(3):
        _, problems = _read_while_writing(live_run, state, atomic=False)
        if problems:
            break
    assert problems, "the control writer never tore a read: this test could not catch a torn checkpoint"


@pytest.mark.slow
def test_apply_eval_export_succeed_while_training_saves_in_a_loop(live_run, tmp_path):
    """The real commands in their own processes against a writer process saving as fast as it can."""
    from PIL import Image

    ckpt, stop = live_run / "ckpt" / "latest.pt", tmp_path / "STOP"
    Image.new("RGB", (32, 32), (120, 80, 40)).save(tmp_path / "a.png")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(ckpt), str(stop)], stdout=subprocess.PIPE, text=True)
    commands = [["apply", "--ckpt", str(live_run), str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
                 "--device", "cpu"],
                ["eval", "--ckpt", str(live_run), "--features", "tiny", "--metrics", "kid", "--max-images", "2",
                 "--device", "cpu", "--out", str(tmp_path / "ev")],
                ["export", "--ckpt", str(ckpt), "--out", str(tmp_path / "g.onnx")]]
    try:
        assert writer.stdout.readline().strip() == "writing"
        for args in commands:
            if args[0] == "export":
                pytest.importorskip("onnx")
            done = subprocess.run([sys.executable, "-m", "translate", *args], capture_output=True, text=True,
                                  timeout=180)
            assert done.returncode == 0 and "Traceback" not in done.stderr, (args[0], done.stderr[-2000:])
    finally:
        stop.touch()
        saves = writer.stdout.readline().strip()
        writer.kill()
        writer.wait()
    assert int(saves) > 3, "the writer barely wrote: the commands did not run against a moving file"


def test_the_picker_skips_a_checkpoint_removed_while_it_scans(live_run, monkeypatch):
    """A run deleting an old step_N.pt between the folder listing and the read: skipped and named, no traceback."""
    from translate.app import runs

    gone = live_run / "ckpt" / "step_999.pt"
    real = runs._find_checkpoints
    monkeypatch.setattr(runs, "_find_checkpoints", lambda root: ([*real(root)[0], gone], []))
    catalog = CheckpointCatalog(runs_dir=live_run.parent)
    assert len(catalog.scan()) == len(real(live_run.parent)[0])
    assert any("step_999.pt" in reason and "gone" in reason for reason in catalog.skipped)
