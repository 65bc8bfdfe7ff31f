"""translate report on damaged logs: bad lines are skipped with a warning naming FILE:LINE, never a traceback."""
import json

import pytest

from translate.cli import main

GOOD = [{"step": 1, "stage": "cut", "lr": 2e-4, "G/nce": 3.0}, {"step": 2, "stage": "cut", "lr": 2e-4, "G/nce": 2.0}]
EVALS = [{"step": 1, "fid": 30.0, "kid": 0.02, "features": "tiny", "n_images": 4, "improved": ["kid"]},
         {"step": 2, "fid": 25.0, "kid": 0.01, "features": "tiny", "n_images": 4, "improved": []}]


def _lines(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


BAD_LINES = {
    "truncated": b'{"step": 3, "G/nce": 1.',  # a crash mid-write: no newline at the end
    "binary": b"\x00\xff\xfe\x89PNG\r\n\x1a\n",
    "array": b"[1, 2, 3]\n",
    "string": b'"hello"\n',
    "glued": b'{"step": 3, "G/nce": 1.{"step": 4, "G/nce": 0.5}\n',  # a resume appended to a torn line
    "no-step": b'{"G/nce": 1.0}\n',
    "text-step": b'{"step": "three", "G/nce": 1.0}\n',
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
@pytest.mark.parametrize("file", ["log.jsonl", "metrics.jsonl"])
def test_report_skips_a_bad_line_and_names_it(tmp_path, capsys, kind, file):
    run = tmp_path / "run"
    run.mkdir()
    good = GOOD if file == "log.jsonl" else EVALS
    other = EVALS if file == "log.jsonl" else GOOD
    (run / file).write_bytes(_lines(good[:1]) + BAD_LINES[kind] + (b"" if kind == "truncated" else _lines(good[1:])))
    (run / ("metrics.jsonl" if file == "log.jsonl" else "log.jsonl")).write_bytes(_lines(other))
    assert main(["report", str(run)]) == 0  # the CLI logs to stderr (it replaces pytest's log capture)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    warned = [line for line in err.splitlines() if file in line]
    if kind in ("no-step", "text-step"):
        assert any("without an integer step" in w for w in warned)
    else:
        assert any(f"{file}:2:" in w for w in warned), warned
    assert (run / "report.md").is_file()


def test_non_numeric_figure_is_dropped_not_plotted(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    evals = [dict(EVALS[0]), dict(EVALS[1], kid="high", kid_std="wide")]
    (run / "metrics.jsonl").write_bytes(_lines(evals))
    assert main(["report", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "| 1 |" in out  # the last numeric KID is step 1's
    assert "dropping kid" in err and "Traceback" not in err
    from translate.records import read_step_records

    records = read_step_records(run / "metrics.jsonl", {"kid", "kid_std"})
    assert "kid" not in records[1] and records[1]["improved"] == [] and records[1]["features"] == "tiny"


def test_resumed_evaluation_drops_a_torn_metrics_line(tmp_path):
    """On resume EvalHook rewrites metrics.jsonl up to the checkpoint's step; a torn last line used to crash it."""
    from translate.metrics.hook import EvalHook

    (tmp_path / "metrics.jsonl").write_bytes(_lines(EVALS) + b'{"step": 3, "fid": 2')
    hook = EvalHook(None, tmp_path, every=1, best=["kid"], start_step=2)  # the evaluator is not used here
    assert (tmp_path / "metrics.jsonl").read_bytes().endswith(b"\n")
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert hook.best["kid"] == (0.01, 2)
