"""Datasets under faults: bad archives, unwritable data roots, stalled servers, odd files in image folders."""
from __future__ import annotations

import errno
import inspect
import io
import json
import logging
import os
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_zoo import dataset_zip, png

from translate.cli import main
from translate.datasets import zoo
from translate.datasets.download import DownloadError, download_file, safe_extract
from translate.datasets.imageio import find_images
from translate.errors import DataError




def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A zip archive of ``members`` (name -> bytes), in memory (also the fault sweep's)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("bad", [b"<html>captive portal</html>", zip_bytes({"../evil.png": b"x"})],
                         ids=["not-a-zip", "dotdot-member"])
def test_checksum_is_recorded_only_after_a_good_extraction(server, tmp_path, bad):
    (tmp_path / "horse2zebra.zip").write_bytes(bad)  # a bad download left in place (or placed by hand)
    with pytest.raises(DataError):
        zoo.ensure_dataset("horse2zebra", tmp_path, progress=False)
    assert "horse2zebra" not in zoo.load_checksums(tmp_path)
    (tmp_path / "horse2zebra.zip").unlink()  # what the error says to do
    server.httpd.files["horse2zebra.zip"] = dataset_zip()
    folder = zoo.ensure_dataset("horse2zebra", tmp_path, progress=False)
    assert zoo.is_verified("horse2zebra", tmp_path)
    marker = json.loads((folder / zoo.MARKER).read_text())
    assert zoo.load_checksums(tmp_path)["horse2zebra"]["sha256"] == marker["sha256"]


@pytest.mark.parametrize("members", [["trainA/x", "trainA/x/y.png"], ["trainA/x/y.png", "trainA/x"],
                                     ["trainA/x", "trainA/x/"]])
def test_member_that_is_a_file_and_a_folder_is_refused(tmp_path, members):
    z = tmp_path / "a.zip"
    z.write_bytes(zip_bytes({m: b"" if m.endswith("/") else png(0) for m in members}))
    with pytest.raises(DownloadError, match="'trainA/x' is both a file and a folder"):
        safe_extract(z, tmp_path / "out")
    assert not (tmp_path / "out" / "trainA").exists()  # refused before anything was written


def test_zoo_archive_with_a_file_folder_clash_is_a_clean_error(server, tmp_path):
    server.httpd.files["horse2zebra.zip"] = zip_bytes({"trainA/x": png(0), "trainA/x/y.png": png(1),
                                                       "trainB/b.png": png(2)})
    with pytest.raises(DataError, match="both a file and a folder"):
        zoo.ensure_dataset("horse2zebra", tmp_path, progress=False)


def test_data_root_under_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    code = main(["datasets", "download", "horse2zebra", "--root", str(tmp_path / "file" / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "cannot write to the data root" in err
    assert "--data-root" in err and len(err.strip().splitlines()) == 1


def test_read_only_data_root_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """Tests run as root here, where chmod does not stop writes: the read-only filesystem is simulated."""
    root = tmp_path / "ro"
    root.mkdir()
    real_open = open

    def read_only_open(file, mode="r", *args, **kwargs):
        if str(file).startswith(str(root)) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", read_only_open)
    monkeypatch.setenv("TRANSLATE_DATA", str(root))
    code = main(["datasets", "download", "horse2zebra"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "Read-only file system" in err and str(root) in err


class _Stalling(BaseHTTPRequestHandler):
    """Promises 100 kB, sends 10 bytes, then goes quiet until the test ends."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.server.release.wait(30)

    def log_message(self, *args):
        pass


def test_stalled_download_says_it_is_waiting_then_gives_up(tmp_path, caplog):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stalling)
    httpd.daemon_threads, httpd.release = True, threading.Event()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with caplog.at_level(logging.WARNING), pytest.raises(DownloadError, match="could not download"):
            download_file(f"http://127.0.0.1:{httpd.server_address[1]}/a.zip", tmp_path / "a.zip", retries=0,
                          timeout=1.5, progress=False)
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
    assert any("no data from the server" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "a.zip.part").stat().st_size == 10  # kept for a resume


def test_default_stall_budget_is_under_a_minute():
    params = inspect.signature(download_file).parameters
    assert (params["retries"].default + 1) * params["timeout"].default < 60  # was 4 x 30 s


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_image_folders_skip_named_pipes(tmp_path, caplog):
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainA" / "a.png").write_bytes(png(0))
    os.mkfifo(tmp_path / "trainA" / "pipe.png")
    with caplog.at_level(logging.WARNING):
        found = find_images(tmp_path / "trainA")
    assert [Path(p).name for p in found] == ["a.png"]
    assert any("pipe.png" in r.getMessage() and "named pipe" in r.getMessage() for r in caplog.records)


def test_unwritable_data_root_for_the_demo_set_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    """Issue 11 sweep: `train demo` with a read-only $TRANSLATE_DATA raised a raw OSError from mkdtemp."""
    root = tmp_path / "ro"
    root.mkdir()

    def read_only_mkdtemp(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(root / ".demo-x.tmp-1"))

    monkeypatch.setattr("translate.datasets.synthetic.tempfile.mkdtemp", read_only_mkdtemp)
    monkeypatch.setenv("TRANSLATE_DATA", str(root))
    code = main(["train", "demo", "--config", "smoke", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "Read-only file system" in err and str(root) in err and "$TRANSLATE_DATA" in err
    assert not (tmp_path / "run").exists()  # nothing was started
