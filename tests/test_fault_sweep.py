"""benchmarks/fault_sweep.py keeps working: a few cheap cases (no training needed) run and are judged good."""
import json
import subprocess
import sys
from pathlib import Path

SWEEP = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_sweep.py"
CHEAP = ["train-out-is-file", "set-lr-nan", "zoo-file-folder-clash"]


def test_cheap_cases_are_good(tmp_path):
    out = tmp_path / "sweep.json"
    done = subprocess.run([sys.executable, str(SWEEP), "--only", ",".join(CHEAP), "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert [r["case"] for r in result["cases"]] == CHEAP
    assert all(r["good"] for r in result["cases"]), result["cases"]
    assert "clear one-line error or safe refusal" in done.stdout and "denial of service" in done.stdout


def test_list_names_every_case_and_unknown_names_are_refused():
    listed = subprocess.run([sys.executable, str(SWEEP), "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and all(name in listed.stdout for name in CHEAP)
    bad = subprocess.run([sys.executable, str(SWEEP), "--only", "no-such-case"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "unknown case" in bad.stderr
