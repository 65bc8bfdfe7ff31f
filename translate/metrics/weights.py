"""Pretrained weight files for the metrics (Inception for FID/KID, AlexNet/VGG for LPIPS): find or fail fast.

Nothing here downloads silently in the background. A missing file is fetched once with a short timeout
(unless ``TRANSLATE_OFFLINE=1``); when that fails, :class:`MissingWeightsError` names the exact file, the
folder to put it in and the URL, and points at the offline ``--features tiny`` extractor.
"""
from __future__ import annotations

import logging
import os
import shutil
import urllib.request
from pathlib import Path

from translate.atomic import atomic_open
from translate.errors import TranslateError

log = logging.getLogger(__name__)
DOWNLOAD_TIMEOUT_S = 5.0  # connect/read timeout: an unreachable network must fail within seconds


class MissingWeightsError(TranslateError):
    """A pretrained weight file a metric needs is absent and could not be downloaded."""


def offline() -> bool:
    return os.environ.get("TRANSLATE_OFFLINE", "") not in ("", "0")


def ensure_weight_file(folder: str | Path, filename: str, url: str, what: str, alternative: str) -> Path:
    """``folder/filename``, downloading it from ``url`` first if it is missing and the network allows.

    ``what`` names the network in the error ("Inception-v3 for FID/KID"); ``alternative`` says how to do
    without it ("use --features tiny").
    """
    path = Path(folder) / filename
    if path.is_file():
        return path
    reason = "TRANSLATE_OFFLINE is set"
    if not offline():
        try:
            _download(url, path)
            return path
        except OSError as e:  # URLError, timeouts, refused connections and disk errors are all OSErrors
            reason = str(getattr(e, "reason", None) or e) or type(e).__name__
    raise MissingWeightsError(
        f"missing weight file {path} ({what}); it could not be downloaded ({reason}). Download {url} "
        f"on a machine with network access and put it in {path.parent}/ as {filename}, or {alternative}")


def _download(url: str, path: Path) -> None:
    log.debug("trying to download %s to %s", url, path)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, atomic_open(path) as fh:
        shutil.copyfileobj(response, fh)
    log.info("downloaded %s", path)
