"""`translate eval` on a bad --out: a file, a read-only disk, a disk that fills while writing (issue 11)."""
import errno
import json
import os

import pytest

from translate.cli import main

EVAL = ["--features", "tiny", "--metrics", "kid", "--max-images", "3", "--grid", "2", "--device", "cpu"]


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert all(w in err for w in words), err
    return err


def test_out_that_is_a_file_is_refused_before_any_work(smoke_run, tmp_path, monkeypatch, capsys):
    import translate.metrics.evaluate as evaluate

    monkeypatch.setattr(evaluate.Evaluator, "run", lambda *a: pytest.fail("evaluated before checking --out"))
    (tmp_path / "report.txt").write_text("mine")
    assert main(["eval", "--ckpt", str(smoke_run), *EVAL, "--out", str(tmp_path / "report.txt")]) == 2
    _one_line_error(capsys, "--out", "report.txt", "is a file")
    assert (tmp_path / "report.txt").read_text() == "mine"


def test_read_only_out_is_refused_before_any_work(smoke_run, tmp_path, monkeypatch, capsys):
    """Tests run as root here, where chmod does not stop writes: the read-only disk is simulated."""
    import translate.metrics.evaluate as evaluate

    real_access = os.access
    monkeypatch.setattr(evaluate.Evaluator, "run", lambda *a: pytest.fail("evaluated before checking --out"))
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if str(p) == str(tmp_path) else real_access(p, mode))
    assert main(["eval", "--ckpt", str(smoke_run), *EVAL, "--out", str(tmp_path / "new" / "eval")]) == 2
    _one_line_error(capsys, "--out", "read-only")
    assert not (tmp_path / "new").exists()


def test_full_disk_keeps_the_earlier_results_and_prints_the_figures(smoke_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text('{"kid": 0.5}\n')  # an earlier evaluation's file

    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("metrics.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    assert main(["eval", "--ckpt", str(smoke_run), *EVAL, "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert "KID x 10^3 [tiny features]" in printed.out  # the figures were not lost with the file
    errors = [line for line in printed.err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in printed.err and len(errors) == 1  # (the other lines are the progress log)
    assert "No space left" in printed.err and "--out" in printed.err
    assert json.loads((out / "metrics.json").read_text()) == {"kid": 0.5}  # the earlier file, whole
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json"]  # no temp left behind
