"""The web demo under load: a bounded client on 127.0.0.1 against ``translate demo`` in its own process.

Usage: python benchmarks/demo_load.py [--ckpt demo] [--concurrent 20] [--batches 5] [--batch-size 4]
                                      [--sequential 500] [--size 64] [--json PATH]

Phases, each waiting for the last: ``--concurrent`` single-image requests sent at once, just after one batch
request (``--blocker`` images) that keeps the single worker busy, so they pile up in the queue and its bound
(``--max-queue`` waiting; more are refused) is reached; ``--batches`` batch requests at once; then
``--sequential`` single-image requests in a row. Every request must be answered (an output file)
or refused with a clear message (the queue is full); anything else counts as a failure. The server's resident
memory (VmRSS, from /proc) is sampled through the sequential phase; its peak (VmHWM) and its growth after a
warm-up are reported with the median and 95th-percentile latency. The client stops by itself: each request has
a timeout and the whole run a deadline (--max-seconds); the server is killed at the end whatever happens.
Exit status: 0 when no request failed and memory did not grow by more than --max-growth-mb.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

ENV = {"OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
       "NO_ALBUMENTATIONS_UPDATE": "1", "PYTHONUNBUFFERED": "1"}
QUEUE_FULL = "queue is full"  # gradio's refusal when max_size jobs wait (app/ui.py: demo.queue(max_size=16))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/PID/status memory field in MB (VmRSS: now, VmHWM: the peak so far); nan where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _die_with_parent() -> None:
    """In the server's process (Linux): SIGKILL it when this client dies, however it dies (a test's timeout)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_server(ckpt: str, port: int, log_path: Path, max_queue: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "translate", "demo", "--ckpt", ckpt, "--port", str(port), "--device", "cpu",
           "--max-queue", str(max_queue)]
    return subprocess.Popen(cmd, env={**os.environ, **ENV}, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def wait_until_served(port: int, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.25)
    return False


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    """Smooth colour ramps: small files (quick uploads, so concurrent requests join the queue together) that
    still cost a full forward pass of ``size`` x ``size`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0, 1, size)
    paths = []
    for i in range(n):
        arr = np.stack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, 1 - ramp) / 2,
                        np.full((size, size), (i * 37 % 100) / 100)], -1)
        path = folder / f"in{i:03d}.png"
        Image.fromarray((arr * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


class Load:
    """The client side: one gradio_client per thread, outcomes classified, latencies recorded."""

    def __init__(self, url: str, label: str, timeout: float):
        self.url, self.label, self.timeout = url, label, timeout

    def _client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=False)

    def one(self, client, path: Path) -> dict:
        from gradio_client import handle_file

        return self._call(lambda: client.submit(handle_file(str(path)), self.label, 0, api_name="/translate"))

    def batch(self, client, paths: list[Path], running: threading.Event | None = None) -> dict:
        """One batch request; ``running`` is set once the server processes it (or it ended)."""
        from gradio_client import handle_file

        files = [handle_file(str(p)) for p in paths]
        return self._call(lambda: client.submit(files, self.label, 0, api_name="/translate_batch"), running)

    def _call(self, submit, running: threading.Event | None = None) -> dict:
        t0 = time.perf_counter()
        try:
            job = submit()
            while running is not None and not job.done() and job.status().code.name not in ("PROCESSING", "FINISHED"):
                time.sleep(0.02)
            if running is not None:
                running.set()
            result = job.result(timeout=self.timeout)
        except Exception as e:  # noqa: BLE001 - every failure is classified and reported, none stops the run
            if running is not None:
                running.set()
            return self._failure(e, t0)
        ok = isinstance(result, (list, tuple)) and bool(result) and bool(result[0])
        return {"outcome": "answered" if ok else "failed", "message": "" if ok else f"empty result {result!r}"[:200],
                "seconds": time.perf_counter() - t0}

    @staticmethod
    def _failure(e: Exception, t0: float) -> dict:
        """A refusal (the queue is full: a clear message) or a failure (anything else)."""
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        kind = "refused" if QUEUE_FULL in text.lower() else "failed"
        return {"outcome": kind, "message": text[:200], "seconds": time.perf_counter() - t0}


def concurrent(load: Load, jobs: list, fn, blocker: list[Path] | None = None) -> tuple[list[dict], dict | None]:
    """``fn(client, job)`` for every job at once, each from its own thread and client.

    With ``blocker`` (images), one batch request of them is sent first and keeps the single worker busy while
    the others arrive, so that the queue holds exactly what the server admits and the bound is really reached.
    """
    clients = [load._client() for _ in jobs]  # connected first, so the requests themselves start together
    running = threading.Event()  # set once the blocker is being processed
    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        first = pool.submit(load.batch, load._client(), blocker, running) if blocker else None
        if first is not None and not running.wait(timeout=load.timeout):
            raise SystemExit("error: the blocking batch request never started")
        rows = list(pool.map(lambda cj: fn(*cj), zip(clients, jobs)))
        return rows, first.result() if first else None


def sequential(load: Load, paths: list[Path], n: int, pid: int, deadline: float):
    every = max(1, n // 50)  # about 50 memory samples
    client = load._client()
    rows, rss = [], []
    for i in range(n):
        if time.monotonic() > deadline:
            break
        rows.append(load.one(client, paths[i % len(paths)]))
        if (i + 1) % every == 0:
            rss.append((i + 1, rss_mb(pid)))
    return rows, rss


def summary(rows: list[dict]) -> dict:
    secs = sorted(r["seconds"] for r in rows if r["outcome"] == "answered")
    count = {k: sum(r["outcome"] == k for r in rows) for k in ("answered", "refused", "failed")}
    out = {"requests": len(rows), **count,
           "messages": sorted({r["message"] for r in rows if r["outcome"] != "answered"})}
    if secs:
        out.update(median_s=round(statistics.median(secs), 4), p95_s=round(secs[min(len(secs) - 1,
                                                                                    int(0.95 * len(secs)))], 4))
    return out


def growth(rss: list[tuple[int, float]], warmup: int) -> dict:
    """RSS after the warm-up vs at the end (mean of the first and last five samples past ``warmup`` requests)."""
    after = [mb for i, mb in rss if i > warmup]
    if len(after) < 10:
        return {"early_mb": None, "late_mb": None, "growth_mb": None}
    early, late = statistics.mean(after[:5]), statistics.mean(after[-5:])
    return {"early_mb": round(early, 1), "late_mb": round(late, 1), "growth_mb": round(late - early, 1)}


def run(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="demo-load-"))
    port = free_port()
    proc = start_server(args.ckpt, port, tmp / "server.log", args.max_queue)
    started = time.monotonic()
    deadline = started + args.max_seconds
    try:
        if not wait_until_served(port, proc, 120):
            raise SystemExit(f"error: the demo did not serve within 120 s:\n{(tmp / 'server.log').read_text()[-2000:]}")
        url = f"http://127.0.0.1:{port}/"
        from gradio_client import Client

        info = Client(url, verbose=False).view_api(return_format="dict", print_info=False)
        label = _first_label(url)
        load = Load(url, label, args.timeout)
        big = make_images(tmp / "big", max(args.concurrent, args.blocker), args.concurrent_size)
        small = make_images(tmp / "small", max(args.batch_size, 8), args.size)
        burst, first = concurrent(load, big[:args.concurrent], load.one, big[:args.blocker])
        phases = {"concurrent": summary(burst)}
        if first is not None:
            phases["blocker"] = summary([first])
        phases["batches"] = summary(concurrent(load, [small[:args.batch_size]] * args.batches, load.batch)[0])
        rows, rss = sequential(load, small, args.sequential, proc.pid, deadline)
        phases["sequential"] = summary(rows)
        text = (tmp / "server.log").read_text(errors="replace")
        return {"server": {"pid": proc.pid, "peak_rss_mb": round(rss_mb(proc.pid, "VmHWM"), 1),
                           "rss_samples": rss, **growth(rss, args.warmup), "tracebacks": text.count("Traceback")},
                "phases": phases, "endpoints": sorted(info.get("named_endpoints", {})),
                "wall_s": round(time.monotonic() - started, 1), "settings": vars(args)}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _first_label(url: str) -> str:
    """The picker's first checkpoint label, read from the page's config (what a browser would offer)."""
    import urllib.request

    with urllib.request.urlopen(url + "config", timeout=30) as resp:
        config = json.load(resp)
    for comp in config["components"]:
        if comp.get("props", {}).get("elem_id") == "ckpt-picker":
            return comp["props"]["value"]
    raise SystemExit("error: the page has no checkpoint picker")


def verdict(result: dict, max_growth_mb: float, max_queue: int) -> list[str]:
    """What went wrong (empty when the demo held up)."""
    problems = []
    for name, phase in result["phases"].items():
        if phase["failed"]:
            problems.append(f"{name}: {phase['failed']} request(s) failed: {phase['messages']}")
        if phase["answered"] + phase["refused"] != phase["requests"]:
            problems.append(f"{name}: {phase['requests'] - phase['answered'] - phase['refused']} request(s) unanswered")
    burst = result["phases"]["concurrent"]
    if "blocker" in result["phases"] and burst["requests"] > max_queue and burst["answered"] > max_queue:
        problems.append(f"{burst['answered']} of {burst['requests']} requests sent while the worker was busy were "
                        f"answered: more than the queue's bound of {max_queue}")
    if burst["requests"] > max_queue + 1 and not burst["refused"]:
        problems.append(f"{burst['requests']} requests at once with a queue of {max_queue}: none was refused, so "
                        "the bound was not reached (did the requests arrive together?)")
    grown = result["server"]["growth_mb"]
    if grown is None or grown > max_growth_mb:
        problems.append(f"server memory grew by {grown} MB over the sequential phase (limit {max_growth_mb} MB)")
    if result["server"]["tracebacks"]:
        problems.append(f"the server log holds {result['server']['tracebacks']} traceback(s)")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default="demo", help="what `translate demo --ckpt` serves (default: the bundled model)")
    ap.add_argument("--concurrent", type=int, default=20, help="single-image requests sent at once")
    ap.add_argument("--concurrent-size", type=int, default=512, help="their image side")
    ap.add_argument("--blocker", type=int, default=16,
                    help="images of the batch request sent just before them, which keeps the worker busy while they "
                         "arrive (0: none)")
    ap.add_argument("--max-queue", type=int, default=16, help="the server's queue bound (translate demo --max-queue)")
    ap.add_argument("--batches", type=int, default=5, help="batch requests sent at once")
    ap.add_argument("--batch-size", type=int, default=4, help="images per batch request")
    ap.add_argument("--sequential", type=int, default=500, help="single-image requests in a row")
    ap.add_argument("--size", type=int, default=64, help="image side for the batch and sequential phases")
    ap.add_argument("--warmup", type=int, default=100, help="sequential requests before memory growth is measured")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds one request may take, queueing included")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="deadline of the whole run")
    ap.add_argument("--max-growth-mb", type=float, default=30.0, help="allowed RSS growth after the warm-up")
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that run()'s finally stops the server
    result = run(args)
    result["problems"] = verdict(result, args.max_growth_mb, args.max_queue)
    srv = result["server"]
    for name, p in result["phases"].items():
        lat = f"median {p['median_s'] * 1000:.0f} ms, p95 {p['p95_s'] * 1000:.0f} ms" if "median_s" in p else "-"
        print(f"{name:10s} {p['requests']:4d} requests: {p['answered']} answered, {p['refused']} refused, "
              f"{p['failed']} failed | {lat}" + (f" | {'; '.join(p['messages'])}" if p["messages"] else ""))
    print(f"server: peak RSS {srv['peak_rss_mb']} MB; RSS after {args.warmup} requests {srv['early_mb']} MB, at "
          f"the end {srv['late_mb']} MB (growth {srv['growth_mb']} MB); {srv['tracebacks']} tracebacks; "
          f"{result['wall_s']} s")
    for problem in result["problems"]:
        print("PROBLEM:", problem)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
