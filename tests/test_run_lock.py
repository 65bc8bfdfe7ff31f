"""One training per run folder (issue 26): a second start is refused naming the first's pid, --resume and
--overwrite included; a lock left by a killed process is taken over; without fcntl the pid record is the lock."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from translate import locks
from translate.cli import main
from translate.errors import TranslateError
from translate.locks import FileLock, held_by
from translate.runfolder.prepare import LOCK_NAME, check_run_folder, prepare_run_folder, run_lock

HOLD = textwrap.dedent("""
    import sys, time
    from translate.locks import FileLock
    lock = FileLock(sys.argv[1]).acquire()  # kept referenced: a collected lock is released
    print("held", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path):
    """A separate process holding RUN/.train.lock, as a running training does; killed afterwards."""
    procs = []

    def start(run):
        run.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run / LOCK_NAME)], stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def _train(run, *extra):
    return ["train", "demo", "--config", "smoke", "--out", str(run), "--set", "train.device=cpu", *extra]


@pytest.mark.parametrize("extra", [(), ("--resume",), ("--overwrite",)], ids=["new", "resume", "overwrite"])
def test_a_second_training_is_refused_naming_the_first_pid(holder, tmp_path, capsys, extra):
    run = tmp_path / "run"
    proc = holder(run)
    (run / "config.yaml").write_text("preset: smoke\n")  # the first one's files: never touched
    assert main(_train(run, *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and f"pid {proc.pid}" in err[0] and "in use" in err[0]
    assert (run / "config.yaml").read_text() == "preset: smoke\n"


def test_a_killed_holder_is_detected_and_taken_over(holder, tmp_path, caplog):
    run = tmp_path / "run"
    proc = holder(run)
    assert held_by(run / LOCK_NAME).pid == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert held_by(run / LOCK_NAME) is None  # the OS dropped the lock with its process
    lock = run_lock(run)
    prepare_run_folder(run, lock=lock)
    try:
        assert lock.held and lock.previous.pid == proc.pid
        assert f"pid {proc.pid}" in caplog.text and "takes it over" in caplog.text
        assert json.loads((run / LOCK_NAME).read_text())["pid"] == os.getpid()
        with pytest.raises(TranslateError, match=f"pid {os.getpid()}"):
            check_run_folder(run, resume=True)  # and now this process is the one others are told about
    finally:
        lock.release()
    assert not (run / LOCK_NAME).exists() and held_by(run / LOCK_NAME) is None  # a clean end removes it


def test_the_lock_is_taken_before_overwrite_deletes_anything(tmp_path):
    run = tmp_path / "run"
    (run / "ckpt").mkdir(parents=True)
    (run / "ckpt" / "latest.pt").write_bytes(b"weights")
    other = FileLock(run / LOCK_NAME).acquire()  # another open file: conflicts like another process
    try:
        with pytest.raises(TranslateError, match="in use"):
            prepare_run_folder(run, overwrite=True, lock=run_lock(run))
        assert (run / "ckpt" / "latest.pt").read_bytes() == b"weights"
    finally:
        other.release()


def test_default_run_folders_started_together_get_distinct_numbers(tmp_path, monkeypatch):
    from translate.commands.train import _claim_default_run_dir

    monkeypatch.chdir(tmp_path)
    first, second = [], []
    a = _claim_default_run_dir("demo", "smoke", first)
    b = _claim_default_run_dir("demo", "smoke", second)
    try:
        assert a.name == "demo_smoke" and b.name == "demo_smoke_2"
        assert first[0].held and second[0].held
    finally:
        for lock in first + second:
            lock.release()


def test_without_fcntl_the_pid_record_is_the_lock(holder, tmp_path, monkeypatch):
    run = tmp_path / "run"
    proc = holder(run)  # its record names a live pid
    monkeypatch.setattr(locks, "fcntl", None)
    lock = FileLock(run / LOCK_NAME)
    assert held_by(run / LOCK_NAME).pid == proc.pid and not lock.try_acquire()
    proc.kill()
    proc.wait(timeout=10)
    assert held_by(run / LOCK_NAME) is None and lock.try_acquire()
    assert lock.previous.pid == proc.pid
    lock.release()


COUNT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from translate.locks import FileLock
    counter = Path(sys.argv[1])
    for _ in range(25):
        lock = FileLock(str(counter) + ".lock").acquire(wait_s=60)
        counter.write_text(str(int(counter.read_text()) + 1))  # a lost update if two held it at once
        lock.release()  # removes the lock file: a waiter on the removed file must start again
""")


@pytest.mark.slow  # six processes: about 3 s
def test_processes_taking_turns_never_hold_it_together(tmp_path):
    counter = tmp_path / "n"
    counter.write_text("0")
    procs = [subprocess.Popen([sys.executable, "-c", COUNT, str(counter)]) for _ in range(6)]
    try:
        assert [p.wait(timeout=120) for p in procs] == [0] * 6
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert counter.read_text() == "150" and not (tmp_path / "n.lock").exists()
