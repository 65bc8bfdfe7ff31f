"""The fault sweep's kit: run the CLI with a timeout, judge the outcome, build faulty inputs.

A case (listed in fault_cases.py) gets a Ctx (its own scratch folder, the environment, the shared smoke run) and returns
a Verdict; ``judge`` finds tracebacks and timeouts in the commands it ran, the case lists its own checks.
``new_ctx`` and ``run_case`` are what both runners use: tests/faults/test_fault_cases.py (pytest, one test per
case) and benchmarks/fault_sweep.py (the table of outcomes).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from test_dataset_faults import zip_bytes  # noqa: F401 (the cases' archive builder)

REFUSED = "clear one-line error or safe refusal"
HANDLED = "handled correctly"
TRACEBACK = "crash with a raw traceback"
HANG = "hang"
LOST = "silently wrong (files lost/overwritten, log corrupted, progress lost)"
DOS = "denial of service"
NOT_RUN = "not run"
KINDS = [REFUSED, HANDLED, TRACEBACK, HANG, LOST, DOS, NOT_RUN]
GOOD = {REFUSED, HANDLED}
DEAD_URL = "http://127.0.0.1:9"  # never the real server: nothing here may leave the machine
RESUME = ["--config", "smoke", "--resume", "--set", "train.device=cpu"]  # `translate train demo --out RUN` + these
ENV = {"OMP_NUM_THREADS": "1", "NO_ALBUMENTATIONS_UPDATE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
       "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1", "TRANSLATE_ZOO_URL": DEAD_URL}


@dataclass
class Run:
    """One finished (or killed) command."""

    cmd: list[str]
    rc: int | None
    out: str
    err: str
    secs: float
    timed_out: bool
    max_rss_mb: float

    def errors(self) -> list[str]:
        # A progress bar redraws its line with \r, so an error can follow one on the same \n-line.
        return [line for line in re.split(r"[\r\n]", self.err) if line.startswith("error:")]

    def one_error(self) -> bool:
        """A clean failure: non-zero exit, no traceback, exactly one ``error:`` line."""
        return self.rc not in (0, None) and "Traceback" not in self.err and len(self.errors()) == 1


@dataclass
class Verdict:
    kind: str
    note: str = ""


@dataclass
class Ctx:
    """What a case works with: its scratch folder ``tmp``, the environment and the shared smoke run."""

    base: Path
    tmp: Path = field(default=Path())
    env: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def run_dir(self) -> Path:
        """RUN: the smoke preset trained once (6 steps, ngf 8), shared by the cases that need a checkpoint."""
        run = self.base / "RUN"
        done = cli(self, "train", "demo", "--config", "smoke", "--out", str(run), "--set", "train.device=cpu",
                   timeout=300)
        if done.rc != 0:
            raise RuntimeError(f"setup: training the smoke run failed:\n{done.err[-2000:]}")
        return run

    @property
    def ckpt(self) -> Path:
        return self.run_dir / "ckpt" / "latest.pt"

    def copy_run(self, name: str = "run") -> Path:
        dst = self.tmp / name
        shutil.copytree(self.run_dir, dst)
        return dst


def new_ctx() -> Ctx:
    """A Ctx over a fresh temporary folder (TRANSLATE_DATA inside it, the zoo server a dead local port)."""
    base = Path(tempfile.mkdtemp(prefix="fault-sweep-"))
    return Ctx(base=base, env={**os.environ, **ENV, "TRANSLATE_DATA": str(base / "data")})


def run_case(case, ctx: Ctx) -> Verdict:
    """The verdict of ``case`` (a fault_cases.Case) in its own folder; an error of the case itself, not of the
    CLI, is the verdict 'not run'."""
    ctx.tmp = ctx.base / case.name
    ctx.tmp.mkdir()
    try:
        return case.run(ctx)
    except Exception as e:  # noqa: BLE001 - a broken case must not stop the sweep
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Verdict(NOT_RUN, f"sweep error: {type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")


def cli(ctx: Ctx, *args: str, timeout: float = 120, env: dict[str, str] | None = None,
        python: list[str] | None = None) -> Run:
    """``python -m translate ARGS`` in ctx.tmp; killed (with its group) after ``timeout`` seconds."""
    cmd = [sys.executable, *(python or ["-m", "translate"]), *args]
    out_f, err_f = ctx.tmp / ".stdout", ctx.tmp / ".stderr"
    start = time.monotonic()
    with out_f.open("w") as out, err_f.open("w") as err:  # files, not pipes: a chatty child never blocks
        proc = subprocess.Popen(cmd, cwd=ctx.tmp, env={**ctx.env, **(env or {})}, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        rc, usage, timed_out = None, None, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc = os.waitstatus_to_exitcode(status)
                rc = 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as a shell says
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = rc if rc is not None else -9  # so Popen's finaliser does not wait again
    return Run(cmd, rc, out_f.read_text(errors="replace"), err_f.read_text(errors="replace"),
               time.monotonic() - start, timed_out, usage.ru_maxrss / 1024)


def judge(good: str, bad: str, runs: list[Run], checks: dict[str, bool], note: str = "") -> Verdict:
    """Hang > traceback > the first failed check (as ``bad``) > ``good``; ``checks`` maps what must hold to it."""
    for r in runs:
        if r.timed_out:
            return Verdict(HANG, f"killed after {r.secs:.0f} s: {' '.join(r.cmd[1:])}")
        if "Traceback" in r.err:
            last = [line for line in r.err.splitlines() if line.strip()][-1]
            return Verdict(TRACEBACK, f"{' '.join(r.cmd[2:5])}: {last[:160]}")
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        errs = "; ".join(e for r in runs for e in r.errors())[:200]
        return Verdict(bad, "failed: " + ", ".join(failed) + (f" (stderr: {errs})" if errs else ""))
    return Verdict(good, note or "; ".join(e for r in runs for e in r.errors())[:200])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every regular file under ``folder``."""
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def image(path: Path, size: tuple[int, int] = (40, 30), seed: int = 0, noise: bool = False) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if noise:
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path)
    else:
        Image.new("RGB", size, ((seed * 70) % 256, (seed * 130) % 256, 90)).save(path)
    return path


def edited_ckpt(ctx: Ctx, dst: Path, edit: Callable[[dict], None]) -> Path:
    """RUN's checkpoint at ``dst``, changed by ``edit``."""
    import torch

    ckpt = torch.load(ctx.ckpt, map_location="cpu", weights_only=True)
    edit(ckpt)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)
    return dst


def ckpt_step(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["step"])


def log_steps(path: Path) -> list[int] | None:
    """The steps of a JSONL log, or None when a line does not parse (a torn or merged line)."""
    try:
        return [json.loads(line)["step"] for line in path.read_text().splitlines()]
    except (ValueError, KeyError, TypeError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tmpfs(path: Path, options: str = "size=64k") -> Iterator[bool]:
    """A small tmpfs at ``path`` (root only); yields False when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                        capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def http_folder(ctx: Ctx, folder: Path) -> Iterator[str]:
    """``python -m http.server`` serving ``folder`` on 127.0.0.1; yields its URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 20)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def wait_for_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.25)
    return False


def png_bytes(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 60, 120)).save(buf, "PNG")
    return buf.getvalue()


class Evil:
    """Pickles to a call of os.system: loading the pickle would run the command."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def peak_rss_ok(r: Run, limit_mb: float = 3000) -> bool:
    return r.max_rss_mb < limit_mb

