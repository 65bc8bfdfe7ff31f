"""Safe, resumable HTTP downloads and safe zip extraction, with the standard library only.

``download_file`` writes into ``DEST.part`` and renames it to ``DEST`` only once it is complete and its
SHA-256 checked; an interrupted transfer (a cut connection, Ctrl-C) is resumed with an HTTP Range request,
by the retries inside one call or by the next call. A checksum mismatch keeps the file aside as
``DEST.bad-sha256`` and raises. ``safe_extract`` unpacks a zip only inside the target folder: members
with absolute paths, ``..`` components that escape it, or symlinks are refused before anything is written.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import socket
import stat
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from translate.datasets.stall import StallWatch
from translate.errors import TranslateError
from translate.progress import Progress

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # bytes per read: small enough for a smooth progress line, large enough to be cheap
USER_AGENT = "translate-dataset-downloader/1"
# Seconds without a byte before a transfer is retried: with 2 retries a dead link gives up in about 40 s
# (3 x 12 s plus 1 + 2 s of back-off), logging what it waits for every 4 s meanwhile.
STALL_TIMEOUT = 12.0
# Errors that mean "the transfer broke": worth a resume, unlike an HTTP 404 or a checksum mismatch.
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError)


class DownloadError(TranslateError):
    """A download failed (no network, HTTP error, cut connection, bad checksum) or an archive is unsafe."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 differs from the expected one; the file was kept aside."""


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _total_size(resp, offset: int) -> int | None:
    """The full size of the file from Content-Range (a resumed 206 answer) or Content-Length."""
    content_range = resp.headers.get("Content-Range", "")
    if resp.status == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        return int(total) if total.isdigit() else None
    length = resp.headers.get("Content-Length")
    return int(length) + (offset if resp.status == 206 else 0) if length and length.isdigit() else None


def _transfer(url: str, part: Path, timeout: float, progress: bool, label: str) -> None:
    """One HTTP request appending to ``part`` (or restarting it when the server ignores Range)."""
    offset = part.stat().st_size if part.exists() else 0
    with StallWatch(label, timeout) as watch:
        _receive(url, part, offset, timeout, progress, label, watch)


def _receive(url: str, part: Path, offset: int, timeout: float, progress: bool, label: str, watch) -> None:
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset and e.headers.get("Content-Range", "") == f"bytes */{offset}":
            return  # the partial file is already whole (a run stopped between the last byte and the rename)
        if e.code == 416 and offset:  # our partial file is not a prefix the server knows: start over
            log.warning("the server refused to resume %s; downloading it again from the start", part.name)
            part.unlink()
            resp = _open(url, 0, timeout)
            offset = 0
        else:
            raise
    with resp:
        if offset and resp.status != 206:
            log.warning("the server does not support resuming; downloading %s again from the start", part.name)
            offset = 0
        total = _total_size(resp, offset)
        if offset:
            log.info("resuming %s at %s", part.name, format_bytes(offset))
        bar = Progress(total, start=offset, label=label, show=format_bytes, enabled=progress)
        done = offset
        with open(part, "ab" if offset else "wb") as f:
            while True:
                chunk = resp.read1(CHUNK)  # what has arrived: a stall keeps the bytes before it
                if not chunk:
                    break
                watch.alive()
                f.write(chunk)
                done += len(chunk)
                bar.update(done)
        bar.update(done, final=True)
    if total is not None and done != total:
        raise http.client.IncompleteRead(b"", total - done)


def _describe(e: BaseException) -> str:
    reason = getattr(e, "reason", None)
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, http.client.IncompleteRead):
        return "the connection closed before the end of the file"
    return f"{type(e).__name__}: {reason or e}"


def download_file(url: str, dest: str | os.PathLike, sha256: str | None = None, *, retries: int = 2,
                  timeout: float = STALL_TIMEOUT, progress: bool = True) -> str:
    """Download ``url`` to ``dest`` (atomically), resuming a ``dest.part`` left by an earlier attempt.

    ``sha256``: the expected digest (None = not checked). ``retries``: further attempts after a broken
    transfer, each resuming where the last stopped. ``timeout``: seconds without data before giving up.
    Returns the file's SHA-256. Raises ChecksumError on a mismatch, DownloadError when the transfer
    fails (at once when no connection can be made, after ``retries`` resumes when it keeps breaking).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    label = dest.name
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress, label)
            break
        except urllib.error.HTTPError as e:
            raise DownloadError(f"{url}: {_describe(e)}") from None
        except _TRANSIENT as e:
            have = part.stat().st_size if part.exists() else 0
            # urlopen wraps failures to connect (no network, DNS, refused) in URLError: retrying won't help.
            if attempt == retries or isinstance(e, urllib.error.URLError):
                raise DownloadError(f"could not download {url}: {_describe(e)}"
                                    + (f" ({format_bytes(have)} kept in {part}; run again to resume)" if have else "")
                                    ) from None
            log.warning("download of %s interrupted (%s) at %s; resuming (%d/%d)", label, _describe(e),
                        format_bytes(have), attempt + 1, retries)
            time.sleep(min(2.0 ** attempt, 10.0))  # 1, 2, 4 ... s: give a flaky link time to recover
        except OSError as e:  # not the network: the disk (full, read-only, permissions)
            raise DownloadError(f"could not write {part}: {e.strerror or e}") from None
    digest = sha256_file(part)
    if sha256 and digest != sha256.lower():
        bad = dest.with_name(dest.name + ".bad-sha256")
        os.replace(part, bad)
        raise ChecksumError(f"{url}: checksum mismatch: SHA-256 {digest}, expected {sha256}. The file is kept "
                            f"aside as {bad} (delete it and run again; if this repeats, the server's copy changed)")
    os.replace(part, dest)
    return digest


# ---------------------------------------------------------------------------------------------
# Zip extraction that stays inside its target folder


def _member_problem(info: zipfile.ZipInfo, target: Path) -> str | None:
    """Why extracting ``info`` into ``target`` is unsafe, or None."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return "has an absolute path"
    if ".." in PurePosixPath(posix).parts:
        return "has a '..' component"
    resolved = (target / posix).resolve()
    if resolved != target and target not in resolved.parents:
        return "would be written outside the target folder"
    return None


def safe_extract(zip_path: str | os.PathLike, target: str | os.PathLike, max_bytes: int = 50 << 30) -> Path:
    """Extract ``zip_path`` into ``target`` (created), refusing unsafe archives before writing anything.

    Refused: absolute member paths, ``..`` components, members resolving outside ``target``, symlinks,
    and archives that would expand to more than ``max_bytes`` (a zip bomb).
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    target = target.resolve()
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DownloadError(f"{zip_path}: not a readable zip archive ({e}); delete it and download again") from None
    with zf:
        members = zf.infolist()
        for info in members:
            problem = _member_problem(info, target)
            if problem:
                raise DownloadError(f"{zip_path}: refusing to extract: member {info.filename!r} {problem}")
        total = sum(i.file_size for i in members)
        if total > max_bytes:
            raise DownloadError(f"{zip_path}: refusing to extract {format_bytes(total)} (limit {format_bytes(max_bytes)})")
        clash = _file_and_folder(members)
        if clash:
            raise DownloadError(f"{zip_path}: refusing to extract: {clash!r} is both a file and a folder in the "
                                "archive; it is not a valid dataset archive (delete it and download again)")
        for info in members:
            _extract_member(zf, info, target, zip_path)
    return target


def _file_and_folder(members: list[zipfile.ZipInfo]) -> str | None:
    """A name that is a file member and also the folder of another member (``x`` and ``x/y.png``), or None."""
    files = {i.filename.replace("\\", "/").rstrip("/") for i in members if not i.is_dir()}
    for info in members:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        for k in range(1, len(parts) if not info.is_dir() else len(parts) + 1):
            prefix = "/".join(parts[:k])
            if prefix in files and (k < len(parts) or info.is_dir()):
                return prefix
    return None


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zip_path) -> None:
    out = target / info.filename.replace("\\", "/")
    try:
        if info.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            return
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot extract {zip_path} into {target}: {e.strerror or e} ({e.filename or out}); "
                            "choose a writable data root with --data-root DIR or $TRANSLATE_DATA") from None
    try:
        with zf.open(info) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except (zipfile.BadZipFile, EOFError) as e:  # a CRC error or a truncated archive
        raise DownloadError(f"{zip_path}: member {info.filename!r} is corrupt ({e}); "
                            "delete the archive and download again") from None
    except OSError as e:  # a full or read-only disk, or a CRC error surfacing as an OSError
        raise DownloadError(f"cannot extract {info.filename!r} from {zip_path}: {e.strerror or e}; free some "
                            "space or choose another data root (--data-root DIR or $TRANSLATE_DATA)") from None
