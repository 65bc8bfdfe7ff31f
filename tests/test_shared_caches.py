"""Shared caches under concurrent processes (issue 26): the synthetic demo set, zoo downloads and the cached
evaluation features are built once while the others wait (bounded, with a clear message), every process ends
with the same valid cache, and what a killed builder leaves is repaired by the next run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from test_zoo import dataset_zip

from translate.config import SyntheticConfig
from translate.datasets import zoo
from translate.datasets.synthetic import ensure_synthetic, synthetic_dir
from translate.errors import TranslateError
from translate.locks import WAIT_ENV, FileLock

TINY = SyntheticConfig(size=16, n_train=3, n_test=2, n_modes=2, seed=5)
N_PROCS = 8
# Each child imports first, then waits for GO so that all eight start the cached work in the same instant.
CHILD = textwrap.dedent("""
    import logging, os, sys, time
    from pathlib import Path
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    {imports}
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.01)
    {work}
""")


def _run_together(tmp_path: Path, imports: str, work: str, env: dict | None = None, timeout: float = 120):
    """N_PROCS children started at once; their (returncode, stderr), each killed after ``timeout`` seconds."""
    go = tmp_path / "GO"
    code = CHILD.format(imports=imports, work=work)
    procs = [subprocess.Popen([sys.executable, "-c", code, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})
             for _ in range(N_PROCS)]
    time.sleep(0.5)
    go.touch()
    results = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=timeout)
            results.append((p.returncode, err))
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return results


def _no_tracebacks(results):
    for rc, err in results:
        assert rc == 0 and "Traceback" not in err, err[-2000:]


# -- the synthetic demo set ----------------------------------------------------------------------------------

def test_a_killed_generations_temp_folder_is_removed_and_the_set_generated(tmp_path):
    final = synthetic_dir(TINY, tmp_path)
    left = tmp_path / f".{final.name}.tmp-killed"  # what kill -9 during generation leaves
    (left / "trainA").mkdir(parents=True)
    (left / "trainA" / "000000.png").write_bytes(b"half")
    assert ensure_synthetic(TINY, tmp_path) == final
    assert (final / "labels.json").is_file() and not left.exists()


def test_a_generation_in_progress_is_waited_for_then_refused_in_one_line(tmp_path, monkeypatch):
    final = synthetic_dir(TINY, tmp_path)
    other = FileLock(tmp_path / f".{final.name}.lock").acquire()  # another process generating it
    monkeypatch.setenv(WAIT_ENV, "0.5")
    try:
        with pytest.raises(TranslateError) as e:
            ensure_synthetic(TINY, tmp_path)
    finally:
        other.release()
    message = str(e.value)
    assert f"pid {os.getpid()}" in message and WAIT_ENV in message and "\n" not in message
    assert not final.exists()
    assert ensure_synthetic(TINY, tmp_path) == final  # once the other is done


@pytest.mark.slow
def test_eight_processes_generate_the_demo_set_once(tmp_path):
    results = _run_together(tmp_path, "from translate.config import SyntheticConfig\n"
                            "from translate.datasets.synthetic import ensure_synthetic",
                            f"print(ensure_synthetic(SyntheticConfig(size=32, n_train=40, n_test=8, n_modes=3), "
                            f"Path({str(tmp_path / 'data')!r})))")
    _no_tracebacks(results)
    generated = [err for _, err in results if "generated the synthetic dataset" in err]
    assert len(generated) == 1  # the others waited and used its copy
    folders = list((tmp_path / "data").iterdir())
    final = next(p for p in folders if p.name.startswith("demo-"))
    assert [p.name for p in folders if p != final] == []  # no temp or lock file left
    assert len(list((final / "trainA").glob("*.png"))) == 40 and (final / "labels.json").is_file()


@pytest.mark.slow
def test_kill_9_during_generation_is_repaired_by_the_next_run(tmp_path):
    cfg = SyntheticConfig(size=32, n_train=600, n_test=4, n_modes=3)
    data, final = tmp_path / "data", synthetic_dir(cfg, tmp_path / "data")
    code = ("import sys\nfrom pathlib import Path\nfrom translate.config import SyntheticConfig\n"
            "from translate.datasets.synthetic import ensure_synthetic\n"
            f"ensure_synthetic(SyntheticConfig(size=32, n_train=600, n_test=4, n_modes=3), Path({str(data)!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(data.glob(f".{final.name}.tmp-*/trainA/*.png")):
            time.sleep(0.05)
        assert proc.poll() is None, "the generation ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not final.exists() and list(data.glob(f".{final.name}.tmp-*"))  # half a set, in its temp folder
    assert ensure_synthetic(cfg, data) == final
    assert len(list((final / "trainA").glob("*.png"))) == 600 and not list(data.glob(f".{final.name}.tmp-*"))


# -- zoo downloads ---------------------------------------------------------------------------------------------

def test_a_killed_extractions_leftovers_are_removed(server, tmp_path):
    server.httpd.files["facades.zip"] = dataset_zip("facades")
    left = tmp_path / ".facades.extract-killed"  # what kill -9 during extraction leaves (a minute old)
    (left / "facades" / "trainA").mkdir(parents=True)
    assert zoo.ensure_dataset("facades", tmp_path, progress=False) == tmp_path / "facades"
    assert zoo.is_verified("facades", tmp_path) and not left.exists()


def test_a_download_in_progress_is_waited_for_then_refused_in_one_line(server, tmp_path, monkeypatch):
    server.httpd.files["facades.zip"] = dataset_zip("facades")
    monkeypatch.setenv(WAIT_ENV, "0.5")
    other = FileLock(tmp_path / ".facades.lock").acquire()
    try:
        with pytest.raises(TranslateError, match=f"pid {os.getpid()}.*{WAIT_ENV}"):
            zoo.ensure_dataset("facades", tmp_path, progress=False)
    finally:
        other.release()
    assert server.httpd.requests == [] and not (tmp_path / "facades").exists()


@pytest.mark.slow
def test_eight_processes_download_and_extract_once(server, tmp_path):
    server.httpd.files["facades.zip"] = dataset_zip("facades", n=(30, 30, 5, 5))
    root = tmp_path / "data"
    results = _run_together(tmp_path, "from translate.cli import main",
                            f"sys.exit(main(['datasets', 'download', 'facades', '--root', {str(root)!r}]))",
                            env={"TRANSLATE_ZOO_URL": server.base})
    _no_tracebacks(results)
    assert [r[0] for r in server.httpd.requests] == ["/facades.zip"]  # downloaded once
    assert sum("is ready in" in err for _, err in results) == 1  # extracted once
    assert zoo.is_verified("facades", root) and len(list((root / "facades" / "trainA").iterdir())) == 30
    assert sorted(p.name for p in root.iterdir()) == [zoo.CHECKSUMS, "facades"]


# -- cached evaluation features --------------------------------------------------------------------------------

def _features(tmp_path):
    from translate.metrics.evaluate import reference_features
    from translate.metrics.tiny import TinyFeatures

    root = ensure_synthetic(TINY, tmp_path / "data")
    files = sorted((root / "testB").glob("*.png"))
    return reference_features(TinyFeatures("cpu"), root, files, "test", 32, 4)


def test_unreadable_cached_features_are_computed_again(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TRANSLATE_DATA", str(tmp_path / "data"))
    want = _features(tmp_path)
    [cached] = (tmp_path / "data" / "stats").glob("*.npy")
    cached.write_bytes(cached.read_bytes()[:100])  # a torn file (an older version, a disk error)
    orphan = cached.with_name(f".{cached.name}.4242.x1y2.tmp")  # a killed writer's temp
    orphan.write_bytes(b"half")
    got = _features(tmp_path)
    assert np.array_equal(got, want) and np.array_equal(np.load(cached), want)
    assert "unreadable cached features" in caplog.text and not orphan.exists()


@pytest.mark.slow
def test_eight_evaluations_compute_the_reference_features_once(tmp_path):
    data = tmp_path / "data"
    ensure_synthetic(TINY, data)
    results = _run_together(
        tmp_path, "import torch\ntorch.set_num_threads(1)\nfrom translate.config import SyntheticConfig\n"
                  "from translate.datasets.synthetic import ensure_synthetic\n"
                  "from translate.metrics.evaluate import reference_features\n"
                  "from translate.metrics.tiny import TinyFeatures",
        f"root = ensure_synthetic(SyntheticConfig(size=16, n_train=3, n_test=2, n_modes=2, seed=5), Path({str(data)!r}))\n"
        "f = reference_features(TinyFeatures('cpu'), root, sorted((root / 'testB').glob('*.png')), 'test', 32, 4)\n"
        "print(f.sum())", env={"TRANSLATE_DATA": str(data)})
    _no_tracebacks(results)
    assert sum("reference features from cache" not in err for _, err in results) == 1  # computed once
    [cached] = (data / "stats").glob("*.npy")
    assert np.load(cached).shape[0] == 2 and not list((data / "stats").glob("*.tmp"))
    assert json.dumps(sorted({err.count("from cache") for _, err in results})) == "[0, 1]"
