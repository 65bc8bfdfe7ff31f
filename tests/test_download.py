"""Downloads against a local HTTP server on 127.0.0.1 (with Range support), and safe zip extraction."""
from __future__ import annotations

import hashlib
import io
import os
import re
import socket
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from translate.datasets.download import (ChecksumError, DownloadError, download_file, format_bytes, safe_extract,
                                         sha256_file)
from translate.progress import Progress


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` when ``server.ranges``; the n-th request is cut
    after ``server.cuts[n]`` body bytes (the connection closes early, as on a network failure)."""

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        data = srv.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404)
            return
        start, rng = 0, self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if match and srv.ranges:
            start = int(match[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = srv.cuts.pop(0) if srv.cuts else None
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):  # keep test output quiet
        pass


class LocalServer:
    """An HTTP server on 127.0.0.1 in a daemon thread; ``url(name)`` addresses ``files[name]``."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files, self.httpd.requests, self.httpd.cuts, self.httpd.ranges = {}, [], [], True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = LocalServer()
    yield srv
    srv.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def payload(n: int = 300_000) -> bytes:
    return os.urandom(n)


# ---------------------------------------------------------------------------------------------
# download_file


def test_complete_download_is_verified_and_atomic(server, tmp_path):
    data = payload()
    server.httpd.files["a.zip"] = data
    dest = tmp_path / "sub" / "a.zip"
    digest = download_file(server.url("a.zip"), dest, hashlib.sha256(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data and digest == hashlib.sha256(data).hexdigest()
    assert not (tmp_path / "sub" / "a.zip.part").exists()
    assert server.httpd.requests == [("/a.zip", None)]


def test_resume_after_a_cut_connection(server, tmp_path):
    data = payload()
    server.httpd.files["a.zip"] = data
    server.httpd.cuts = [100_000]
    dest = tmp_path / "a.zip"
    download_file(server.url("a.zip"), dest, hashlib.sha256(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data
    assert [r for _, r in server.httpd.requests] == [None, "bytes=100000-"]


def test_resume_across_calls_keeps_the_part_file(server, tmp_path):
    data = payload()
    server.httpd.files["a.zip"] = data
    server.httpd.cuts = [120_000]
    dest = tmp_path / "a.zip"
    with pytest.raises(DownloadError, match="run again to resume"):
        download_file(server.url("a.zip"), dest, retries=0, progress=False)
    part = tmp_path / "a.zip.part"
    assert not dest.exists() and part.stat().st_size == 120_000
    download_file(server.url("a.zip"), dest, progress=False)
    assert dest.read_bytes() == data and not part.exists()
    assert server.httpd.requests[-1] == ("/a.zip", "bytes=120000-")


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    data = payload()
    server.httpd.files["a.zip"], server.httpd.ranges = data, False
    (tmp_path / "a.zip.part").write_bytes(b"x" * 5000)  # stale bytes that must not survive
    download_file(server.url("a.zip"), tmp_path / "a.zip", hashlib.sha256(data).hexdigest(), progress=False)
    assert (tmp_path / "a.zip").read_bytes() == data


def test_a_complete_part_file_is_not_downloaded_again(server, tmp_path):
    data = payload(5000)
    server.httpd.files["a.zip"] = data
    (tmp_path / "a.zip.part").write_bytes(data)  # stopped between the last byte and the rename
    download_file(server.url("a.zip"), tmp_path / "a.zip", hashlib.sha256(data).hexdigest(), progress=False)
    assert (tmp_path / "a.zip").read_bytes() == data and server.httpd.requests == [("/a.zip", "bytes=5000-")]


def test_checksum_mismatch_keeps_the_file_aside(server, tmp_path):
    data = payload(1000)
    server.httpd.files["a.zip"] = data
    dest = tmp_path / "a.zip"
    with pytest.raises(ChecksumError, match="checksum mismatch") as e:
        download_file(server.url("a.zip"), dest, "0" * 64, progress=False)
    bad = tmp_path / "a.zip.bad-sha256"
    assert str(bad) in str(e.value) and hashlib.sha256(data).hexdigest() in str(e.value)
    assert bad.read_bytes() == data and not dest.exists() and not (tmp_path / "a.zip.part").exists()


def test_http_error_and_no_network_fail_fast(server, tmp_path, monkeypatch):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("missing.zip"), tmp_path / "m.zip", progress=False)
    import translate.datasets.download as download

    real, attempts, sleeps = download._transfer, [], []
    monkeypatch.setattr(download, "_transfer", lambda *a, **k: (attempts.append(a), real(*a, **k))[1])
    monkeypatch.setattr(download.time, "sleep", sleeps.append)
    url = f"http://127.0.0.1:{closed_port()}/a.zip"
    with pytest.raises(DownloadError, match=f"could not download {re.escape(url)}"):
        download_file(url, tmp_path / "a.zip", progress=False)
    assert len(attempts) == 1 and sleeps == []  # fails fast by construction: one attempt, no back-off
    assert not (tmp_path / "a.zip").exists() and not (tmp_path / "a.zip.part").exists()


def test_progress_line_shows_bytes_speed_and_time_left():
    stream = io.StringIO()
    bar = Progress(4 << 20, start=1 << 20, label="a.zip", show=format_bytes, stream=stream)  # as download_file
    bar.t0 -= 1.0  # one second in, 1 MB done in it
    bar.update(2 << 20, final=True)
    line = stream.getvalue()
    assert "a.zip 2.0 MB/4.0 MB (50%)" in line and re.search(r"\| (1024\.0 KB|1\.0 MB)/s \|", line)
    assert "0m02s left" in line


# ---------------------------------------------------------------------------------------------
# safe_extract


def make_zip(path, members: dict[str, bytes], symlinks: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_safe_extract_unpacks_inside_the_target(tmp_path):
    z = make_zip(tmp_path / "ok.zip", {"set/trainA/a.png": b"a", "set/trainB/b.png": b"b"})
    out = safe_extract(z, tmp_path / "out")
    assert (out / "set" / "trainA" / "a.png").read_bytes() == b"a"


@pytest.mark.parametrize("members,symlinks,reason", [
    ({"../evil.txt": b"x"}, None, "'..' component"),
    ({"set/../../evil.txt": b"x"}, None, "'..' component"),
    ({"/tmp/evil.txt": b"x"}, None, "absolute path"),
    ({"C:/evil.txt": b"x"}, None, "absolute path"),
    ({"set/a.png": b"x"}, {"set/link": "/etc/passwd"}, "symbolic link"),
])
def test_zip_slip_absolute_paths_and_symlinks_are_refused(tmp_path, members, symlinks, reason):
    z = make_zip(tmp_path / "bad.zip", {"set/first.png": b"ok", **members}, symlinks)
    with pytest.raises(DownloadError, match=re.escape(reason)):
        safe_extract(z, tmp_path / "deep" / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "deep" / "evil.txt").exists()
    assert list((tmp_path / "deep" / "out").iterdir()) == []  # refused before anything was written


def test_corrupt_and_oversized_archives_are_refused(tmp_path):
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(DownloadError, match="not a readable zip"):
        safe_extract(tmp_path / "junk.zip", tmp_path / "out")
    z = make_zip(tmp_path / "big.zip", {"a.bin": b"\0" * 10_000})
    with pytest.raises(DownloadError, match="refusing to extract"):
        safe_extract(z, tmp_path / "out2", max_bytes=1000)
    assert sha256_file(z) == hashlib.sha256(z.read_bytes()).hexdigest()


def test_unwritable_destination_is_a_clear_error(server, tmp_path):
    server.httpd.files["a.zip"] = payload(1000)
    (tmp_path / "a.zip.part").mkdir()  # cannot be opened as a file
    with pytest.raises(DownloadError, match="could not write"):
        download_file(server.url("a.zip"), tmp_path / "a.zip", progress=False)
