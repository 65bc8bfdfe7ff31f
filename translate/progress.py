"""The one progress display, for every long loop: training steps, downloaded bytes, translated images.

A line reads ``LABEL DONE/TOTAL (PCT%) | RATE | TIME left | extra values``. On a terminal it is redrawn in place
(at most 4 times a second, and at the end); otherwise (CI, a log file) a line is written every ``every``
units, or every ``seconds`` when ``every`` is 0, and at the end. Dependency-free, in the base layer.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

REDRAW_S = 0.25  # a terminal line is redrawn at most this often


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    def __init__(self, total: int | None, start: int = 0, label: str = "train", unit: str = "step",
                 every: int = 0, seconds: float = 5.0, show: Callable[[float], str] | None = None,
                 stream=None, enabled: bool = True):
        self.total = total  # where the count ends; None when unknown (a download whose size the server withholds)
        self.start = start  # the count when this session began (a resume): the rate counts only what is done here
        self.label = label  # the line's first word: train, apply, a file name
        self.unit = unit  # what is counted, for the rate (step/s, img/s); unused when ``show`` is given
        self.every = max(0, every)  # off a terminal: a line every N units (0: every ``seconds`` seconds)
        self.seconds = seconds
        self.show = show  # formats amounts and rates (format_bytes for downloads); None: plain counts
        self.stream = stream or sys.stderr
        self.enabled = enabled  # False: nothing is written (downloads inside tests, quiet callers)
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last_draw = float("-inf")
        self._line_open = False  # a terminal line drawn and not yet ended

    def rate(self, done: float) -> float:
        elapsed = time.perf_counter() - self.t0
        return (done - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self, done: float, values: dict[str, float] | None = None) -> str:
        rate = self.rate(done)
        if self.show:
            amount, total, speed = self.show(done), self.show(self.total or 0), f"{self.show(rate)}/s"
        else:
            width = len(str(self.total or ""))
            amount, total, speed = f"{done:>{width}}", str(self.total), f"{rate:.2f} {self.unit}/s"
        parts = [f"{self.label} {amount}", speed]
        if self.total:
            parts[0] += f"/{total} ({100.0 * done / self.total:.0f}%)"
            parts.append(f"{format_duration((self.total - done) / rate) if rate > 0 else '?'} left")
        if values:
            parts.append(" ".join(f"{k} {v:.3g}" for k, v in values.items()))
        return " | ".join(parts)

    def update(self, done: float, values: dict[str, float] | None = None, final: bool = False) -> None:
        """Show ``done`` units (and ``values``); ``final`` (or reaching ``total``) draws the last line and ends it."""
        if not self.enabled:
            return
        final = final or (self.total is not None and done >= self.total)
        now = time.perf_counter()
        if self.tty:
            due = final or now - self._last_draw >= REDRAW_S
        else:
            due = final or (done % self.every == 0 if self.every else now - self._last_draw >= self.seconds)
        if due:
            self.stream.write("\r\033[K" + self.line(done, values) if self.tty else self.line(done, values) + "\n")
            self.stream.flush()
            self._line_open, self._last_draw = self.tty, now
        if final:
            self.close()

    def close(self) -> None:
        """End a terminal line, so whatever is written next (an error, a log line) starts a line of its own."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False
