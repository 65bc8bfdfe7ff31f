"""The demo under load (issue 26): benchmarks/demo_load.py, reduced but real, against `translate demo` on
127.0.0.1: a burst larger than the queue bound is partly refused with a clear message and otherwise answered,
batch requests at once are answered, and the server's memory does not grow over requests in a row."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "demo_load.py"


@pytest.mark.slow
def test_demo_under_load_answers_or_refuses_every_request_and_keeps_its_memory(tmp_path):
    out = tmp_path / "load.json"
    args = ["--concurrent", "8", "--max-queue", "3", "--blocker", "8", "--concurrent-size", "384", "--batches", "3",
            "--batch-size", "2", "--sequential", "30", "--warmup", "10", "--size", "32", "--max-seconds", "100",
            "--max-growth-mb", "30", "--json", str(out)]
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=118)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    result = json.loads(out.read_text())
    burst, batches, seq = (result["phases"][k] for k in ("concurrent", "batches", "sequential"))
    assert burst["answered"] + burst["refused"] == 8 and burst["failed"] == 0
    # A batch keeps the worker busy while they arrive: 3 wait, the other 5 are refused with gradio's queue message.
    assert burst["refused"] == 5 and burst["answered"] == 3 and result["phases"]["blocker"]["answered"] == 1
    assert all("queue is full" in m.lower() for m in burst["messages"])
    assert batches["answered"] == 3 and seq["answered"] == 30
    server = result["server"]
    assert server["tracebacks"] == 0 and server["peak_rss_mb"] > 0
    assert server["growth_mb"] is not None and server["growth_mb"] <= 30
    assert seq["median_s"] <= seq["p95_s"]
