"""translate.records: the JSON-lines reader (objects only, in order) and the torn-tail repair before appending."""
import json

import pytest

from translate.records import append_jsonl, read_jsonl, repair_torn_tail

GOOD = [{"step": 1, "stage": "cut", "lr": 2e-4, "G/nce": 3.0}, {"step": 2, "stage": "cut", "lr": 2e-4, "G/nce": 2.0}]


def _lines(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_read_jsonl_keeps_order_and_objects_only(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1]\n{"a": 2}\n')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


@pytest.mark.parametrize("tail, kept", [(b'{"step": 3, "G/n', 2), (b"", 2), (b'{"step": 3}\n', 3)])
def test_repair_torn_tail_then_append_starts_a_new_line(tmp_path, tail, kept):
    path = tmp_path / "log.jsonl"
    path.write_bytes(_lines(GOOD) + tail)
    assert repair_torn_tail(path) == (tail != b"" and not tail.endswith(b"\n"))
    append_jsonl(path, {"step": 9, "G/nce": float("nan")})
    records = read_jsonl(path)
    assert len(records) == kept + 1 and records[-1] == {"step": 9, "G/nce": None}


def test_repair_torn_tail_of_a_single_torn_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"step": 1, "G')
    assert repair_torn_tail(path) and path.read_bytes() == b""
    assert not repair_torn_tail(tmp_path / "missing.jsonl")
