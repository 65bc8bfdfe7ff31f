"""The named dataset zoo and `translate datasets`, against a local HTTP server serving zips built here."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from test_download import closed_port

from translate import paths
from translate.config import load_config
from translate.datasets import zoo
from translate.datasets.sources import resolve_source
from translate.errors import DataError


def png(seed: int, size=40) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def dataset_zip(name="horse2zebra", n=(4, 3, 2, 2), top=True) -> bytes:
    """An archive laid out like the CycleGAN ones: NAME/trainA/... (plus macOS junk to be ignored)."""
    buf = io.BytesIO()
    prefix = f"{name}/" if top else ""
    with zipfile.ZipFile(buf, "w") as zf:
        for split, count in zip(zoo.SPLITS, n):
            for i in range(count):
                zf.writestr(f"{prefix}{split}/{i}.png", png(hash((split, i)) % 1000))
        zf.writestr(f"__MACOSX/{prefix}trainA/._0.png", b"junk")
    return buf.getvalue()




def test_entries_cover_the_standard_sets(monkeypatch):
    monkeypatch.delenv("TRANSLATE_ZOO_URL", raising=False)
    names = {"apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo", "ukiyoe2photo",
             "vangogh2photo", "maps", "facades", "iphone2dslr_flower", "grumpifycat"}
    assert names <= set(zoo.ZOO) and {"cityscapes", "cat2dog"} <= set(zoo.ZOO)
    for name in names:
        e = zoo.ZOO[name]
        assert e.downloadable and e.size_mb > 0 and e.note and set(e.counts) == set(e.layout)
        assert e.url() == f"https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
    assert zoo.ZOO["horse2zebra"].counts == {"trainA": 1067, "trainB": 1334, "testA": 120, "testB": 140}
    assert zoo.ZOO["cityscapes"].url() is None and zoo.ZOO["cat2dog"].url() is None
    monkeypatch.setenv("TRANSLATE_ZOO_URL", "http://mirror.example/sets/")
    assert zoo.ZOO["maps"].url() == "http://mirror.example/sets/maps.zip"
    with pytest.raises(DataError, match="unknown dataset 'horse2zebr'.*horse2zebra"):
        zoo.get_entry("horse2zebr")


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSLATE_DATA", str(tmp_path / "env"))
    assert paths.data_root(tmp_path / "flag") == tmp_path / "flag"
    assert paths.data_root() == tmp_path / "env"
    monkeypatch.delenv("TRANSLATE_DATA")
    assert str(paths.data_root()).endswith(os.path.join(".cache", "translate"))


def test_first_download_records_checksum_and_later_ones_verify_it(server, tmp_path, caplog):
    server.httpd.files["horse2zebra.zip"] = dataset_zip()
    stale = tmp_path / ".horse2zebra.extract-old"  # left by a run killed an hour ago
    stale.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    with caplog.at_level(logging.WARNING):
        folder = zoo.ensure_dataset("horse2zebra", tmp_path, progress=False)
    assert folder == tmp_path / "horse2zebra" and zoo.is_present("horse2zebra", tmp_path)
    assert sorted(p.name for p in (folder / "trainA").iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    assert not (tmp_path / "horse2zebra.zip").exists() and not (tmp_path / "__MACOSX").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".horse2zebra.extract")] == []  # stale one too
    sums = json.loads((tmp_path / zoo.CHECKSUMS).read_text())
    marker = json.loads((folder / zoo.MARKER).read_text())
    assert sums["horse2zebra"]["sha256"] == marker["sha256"] and len(marker["sha256"]) == 64
    assert marker["counts"] == {"trainA": 4, "trainB": 3, "testA": 2, "testB": 2}
    assert any("differ from the published" in r.getMessage() for r in caplog.records)
    n_requests = len(server.httpd.requests)
    assert zoo.ensure_dataset("horse2zebra", tmp_path) == folder and len(server.httpd.requests) == n_requests

    # The server's copy changes: the recorded checksum catches it, the file is kept aside.
    import shutil
    shutil.rmtree(folder)
    server.httpd.files["horse2zebra.zip"] = dataset_zip(n=(5, 3, 2, 2))
    with pytest.raises(DataError, match="checksum mismatch") as e:
        zoo.ensure_dataset("horse2zebra", tmp_path, progress=False)
    assert zoo.CHECKSUMS in str(e.value) and (tmp_path / "horse2zebra.zip.bad-sha256").is_file()
    assert not zoo.is_present("horse2zebra", tmp_path)


def test_concurrent_processes_download_once(server, tmp_path):
    import threading

    server.httpd.files["maps.zip"] = dataset_zip("maps")
    results = []
    threads = [threading.Thread(target=lambda: results.append(zoo.ensure_dataset("maps", tmp_path, progress=False)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [tmp_path / "maps"] * 3 and len(server.httpd.requests) == 1


def test_zip_placed_by_hand_is_used_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSLATE_ZOO_URL", f"http://127.0.0.1:{closed_port()}")
    (tmp_path / "facades.zip").write_bytes(dataset_zip("facades", top=False))
    folder = zoo.ensure_dataset("facades", tmp_path, progress=False, keep_zip=True)
    assert (folder / "testB" / "1.png").is_file() and (tmp_path / "facades.zip").is_file()
    assert zoo.is_verified("facades", tmp_path)


def test_folder_placed_by_hand_counts_as_present(tmp_path):
    for split in ("trainA", "trainB"):
        (tmp_path / "cat2dog" / split).mkdir(parents=True)
    assert zoo.ensure_dataset("cat2dog", tmp_path) == tmp_path / "cat2dog"
    assert zoo.is_present("cat2dog", tmp_path) and not zoo.is_verified("cat2dog", tmp_path)


def test_manual_sets_explain_the_steps(tmp_path):
    with pytest.raises(DataError) as e:
        zoo.ensure_dataset("cityscapes", tmp_path)
    text = str(e.value)
    assert "cityscapes-dataset.com" in text and "licence" in text and f"{tmp_path}/cityscapes/trainA" in text
    text = zoo.manual_instructions("cat2dog", tmp_path)
    assert "AFHQ" in text and f"ln -s {tmp_path}/afhq/train/cat {tmp_path}/cat2dog/trainA" in text


def test_no_network_error_says_where_and_how(monkeypatch, tmp_path):
    port = closed_port()
    monkeypatch.setenv("TRANSLATE_ZOO_URL", f"http://127.0.0.1:{port}")
    cfg = load_config("smoke", ["dataset=horse2zebra", f"data.data_root={tmp_path}"])
    with pytest.raises(DataError) as e:
        resolve_source(cfg)
    text = str(e.value)
    assert f"http://127.0.0.1:{port}/horse2zebra.zip" in text and str(tmp_path / "horse2zebra") in text
    assert "by hand" in text and str(tmp_path / "horse2zebra.zip") in text


# ---------------------------------------------------------------------------------------------
# CLI


def test_train_flags_for_two_folders_and_the_data_root(tmp_path, monkeypatch):
    from translate.cli import build_parser
    from translate.commands.train import _build_config
    from translate.errors import TranslateError

    monkeypatch.chdir(tmp_path)
    parse = build_parser().parse_args
    args = parse(["train", "--domain-a", "photos", "--domain-b", "~/yes", "--config", "smoke", "--data-root", "d"])
    cfg = _build_config(args)
    assert cfg.data.domain_a == str(tmp_path / "photos") and cfg.data.domain_b == os.path.expanduser("~/yes")
    assert cfg.data.data_root == str(tmp_path / "d") and cfg.dataset == ""
    assert resolve_source(cfg) == cfg  # two folders need no root
    for argv, msg in [(["train", "--domain-a", "x"], "both --domain-a"),
                      (["train", "demo", "--domain-a", "x", "--domain-b", "y"], "not both"),
                      (["train"], "give a DATASET")]:
        with pytest.raises(TranslateError, match=msg):
            _build_config(parse(argv))



def translate(*args, env=None, timeout=120):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "translate", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def test_cli_train_without_network_fails_fast_and_clearly(tmp_path):
    # "Fast" is checked by what runs, not by a clock (this machine's load varies): the dataset is resolved
    # before torch is imported, so the process fails without ever loading torch.
    code = ("import sys; from translate.cli import main; rc = main(sys.argv[1:]); "
            "print('torch imported:', 'torch' in sys.modules); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code, "train", "horse2zebra", "--config", "smoke", "--data-root",
                          str(tmp_path / "data"), "--out", str(tmp_path / "run")], capture_output=True, text=True,
                         env={**os.environ, "TRANSLATE_ZOO_URL": f"http://127.0.0.1:{closed_port()}"}, timeout=120)
    assert "torch imported: False" in res.stdout
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "horse2zebra.zip" in res.stderr and str(tmp_path / "data" / "horse2zebra") in res.stderr
    assert "by hand" in res.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_cli_list_download_then_train(server, tmp_path):
    root = tmp_path / "data"
    env = {"TRANSLATE_ZOO_URL": server.base}
    server.httpd.files["grumpifycat.zip"] = dataset_zip("grumpifycat", n=(4, 4, 0, 0))
    server.httpd.cuts = [3000]  # the first transfer breaks: the download resumes
    res = translate("datasets", "list", "--root", str(root), env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["name", "size", "trainA/trainB", "testA/testB", "source", "local"]
    row = next(line for line in lines if line.startswith("horse2zebra "))
    assert row.split() == ["horse2zebra", "111", "MB", "1067/1334", "120/140", "download", "no"]
    assert str(root) in res.stdout

    res = translate("datasets", "download", "grumpifycat", "--root", str(root), env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(root / "grumpifycat") and "left" in res.stderr
    assert [r for _, r in server.httpd.requests] == [None, "bytes=3000-"]
    res = translate("datasets", "list", "--root", str(root), env=env)
    assert next(line for line in res.stdout.splitlines() if line.startswith("grumpifycat")).endswith("yes (checksummed)")

    res = translate("datasets", "download", "cat2dog", "--root", str(root))
    assert res.returncode == 1 and "AFHQ" in res.stdout

    run = tmp_path / "run"
    res = translate("train", "grumpifycat", "--config", "smoke", "--data-root", str(root), "--out", str(run),
                    "--device", "cpu", "--set", "train.steps=2", "--set", "train.decay_steps=0",
                    "--set", "model.diffaug=color,translation,cutout", env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (run / "ckpt" / "latest.pt").is_file()
    assert f"root: {root / 'grumpifycat'}" in (run / "config.yaml").read_text()
