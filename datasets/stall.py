"""A watchdog that says what a stalled download is doing: waiting for the server, and for how long still.

The socket's own timeout ends the wait; this only keeps the user informed meanwhile, from a daemon
thread, so a quiet link never looks like a hang.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class StallWatch:
    """``with StallWatch(label, timeout) as watch:`` call ``watch.alive()`` whenever bytes arrive.

    ``timeout``: seconds without data before the transfer gives up (the socket timeout). After
    ``interval`` seconds without data (default: a third of the timeout, 1 to 5 s) a line is logged,
    then again every ``interval`` seconds.
    """

    def __init__(self, label: str, timeout: float, interval: float | None = None):
        self.label = label
        self.timeout = timeout
        self.interval = interval if interval is not None else min(max(timeout / 3, 1.0), 5.0)
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="download-stall-watch", daemon=True)

    def alive(self) -> None:
        self._last = time.monotonic()

    def _watch(self) -> None:
        said = 0  # how many intervals of the current quiet spell were reported
        while not self._stop.wait(self.interval / 4):  # poll finer than the interval, report once per interval
            quiet = time.monotonic() - self._last
            if quiet < self.interval:
                said = 0
            elif quiet >= (said + 1) * self.interval:
                said = int(quiet // self.interval)
                log.warning("%s: no data from the server for %.0f s; waiting up to %.0f s before retrying",
                            self.label, quiet, self.timeout)

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
