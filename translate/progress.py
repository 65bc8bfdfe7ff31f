"""A dependency-free progress display: step, steps per second, time left and the latest losses.

On a terminal it redraws one line; otherwise (CI, a log file) it prints a line every ``every`` steps.
"""
from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Progress:
    def __init__(self, total: int, start: int = 0, every: int = 10, stream=None, label: str = "train"):
        self.total = total  # step at which the run ends
        self.start = start  # first step of this session (resume): speed counts only steps done here
        self.every = max(1, every)  # steps between lines when the stream is not a terminal
        self.stream = stream or sys.stderr
        self.label = label
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last_draw = 0.0

    def rate(self, step: int) -> float:
        elapsed = time.perf_counter() - self.t0
        return (step - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self, step: int, values: dict[str, float]) -> str:
        rate = self.rate(step)
        left = (self.total - step) / rate if rate > 0 else float("nan")
        eta = format_duration(left) if rate > 0 else "?"
        shown = " ".join(f"{k} {v:.3g}" for k, v in values.items())
        width = len(str(self.total))
        return f"{self.label} {step:>{width}}/{self.total} | {rate:.2f} step/s | {eta} left | {shown}"

    def update(self, step: int, values: dict[str, float]) -> None:
        now = time.perf_counter()
        if self.tty:
            if now - self._last_draw >= 0.25 or step >= self.total:
                self.stream.write("\r\033[K" + self.line(step, values))
                self.stream.flush()
                self._last_draw = now
        elif step % self.every == 0 or step >= self.total:
            self.stream.write(self.line(step, values) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
