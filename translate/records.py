"""JSON-lines record files (``log.jsonl``, ``metrics.jsonl``): the one reader, the one writer, the torn-tail repair.

A run appends one JSON object per line. A crash or a full disk can leave a torn last line, and a file
edited or copied by hand can hold anything, so readers skip every line that is not a JSON object (with a
warning naming the file and line) instead of failing, and a writer that resumes cuts a torn last line
before appending, so its first record does not land on the same line as the torn one.
"""
from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

from translate.atomic import write_text

log = logging.getLogger(__name__)

MAX_WARNINGS = 5  # per file: a binary file would otherwise print one line per "line"


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of ``path``, one per line, in order; a missing file is empty.

    Skipped with a warning (``FILE:LINE: why``): lines that are not valid UTF-8 JSON, and JSON values that
    are not objects (``[1, 2, 3]``, ``"text"``). Blank lines are ignored.
    """
    path = Path(path)
    if not path.is_file():
        return []
    records, bad = [], 0
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
                problem = None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"
            except (UnicodeDecodeError, ValueError) as e:
                problem = f"not valid JSON ({type(e).__name__})"
            if problem is None:
                records.append(value)
                continue
            bad += 1
            if bad <= MAX_WARNINGS:
                log.warning("%s:%d: skipping a bad line: %s", path, number, problem)
    if bad > MAX_WARNINGS:
        log.warning("%s: skipped %d bad lines in all", path, bad)
    return records


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_step_records(path: str | os.PathLike, numeric: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """The records of a per-step file, by step; a later record for a step (after a resume) replaces earlier ones.

    A record without an integer ``step`` is skipped with a warning. A field in ``numeric``, or named like a
    loss (``G/nce``), whose value is not a number or None (``"kid": "high"``) is dropped from its record
    with a warning, so plots and tables only ever see numbers there. Other fields are kept as they are.
    """
    by_step: dict[int, dict] = {}
    for record in read_jsonl(path):
        step = record.get("step")
        if not _is_number(step) or not math.isfinite(step) or not float(step).is_integer():
            log.warning("%s: skipping a record without an integer step: %.80s", path, json.dumps(record))
            continue
        clean = {"step": int(step)}
        for key, value in record.items():
            if key == "step":
                continue
            if (key in numeric or "/" in key) and not (value is None or _is_number(value)):
                log.warning("%s: step %d: dropping %s = %.40r (expected a number)", path, int(step), key, value)
                continue
            clean[key] = value
        by_step[clean["step"]] = clean
    return [by_step[s] for s in sorted(by_step)]


def repair_torn_tail(path: str | os.PathLike) -> bool:
    """Cut a last line that does not end in a newline (a write torn by a crash); True when one was cut.

    Call it before appending to a file that a killed run may have left, so the next record starts on a
    line of its own. Complete lines, good or bad, are left as they are (readers skip the bad ones).
    """
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return False
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return False
        # Find the end of the last complete line, reading backwards in blocks.
        end, block = size, 1 << 16
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            chunk = f.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        f.truncate(keep)
    log.warning("%s: cut a torn last line (%d bytes) left by an interrupted write", path, size - keep)
    return True


def _line(record: dict) -> str:
    """One JSON line; non-finite floats (a nan loss or score) are written as null, so the line stays valid JSON."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    return json.dumps(clean) + "\n"


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append ``record`` as one line (non-finite floats as null)."""
    with open(path, "a") as f:
        f.write(_line(record))


def rewrite_jsonl(path: str | os.PathLike, records: list[dict]) -> None:
    """Replace the file with ``records``, one per line (non-finite floats as null), atomically."""
    write_text("".join(_line(r) for r in records), Path(path))
