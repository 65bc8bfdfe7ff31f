"""translate apply under faults: inputs never replaced, outputs never lost or half-written, no hang.

A stand-in generator (a fixed 1x1 convolution) keeps these tests fast: the faults are about files, not
about what G computes. The CLI cases use a checkpoint path that does not exist, because the output
folder is checked before the checkpoint is loaded.
"""
import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translate.apply import apply_paths, collect_inputs
from translate.cli import main
from translate.errors import TranslateError


class TinyG(torch.nn.Module):
    multiple = 4

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 1)
        torch.nn.init.constant_(self.conv.weight, 0.0)
        torch.nn.init.constant_(self.conv.bias, 0.5)

    def forward(self, x):
        return self.conv(x)


CPU = torch.device("cpu")


def _img(path, w=16, h=16, seed=0):
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("where", ["same", "inside"])
def test_out_that_holds_an_input_is_refused_and_inputs_are_kept(tmp_path, where):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    _img(src / "a.png")
    _img(src / "sub" / "b.png", seed=1)
    before = _snapshot(src)
    inputs = [str(src)] if where == "same" else [str(src / "sub" / "b.png")]
    with pytest.raises(TranslateError, match="holds the input"):
        apply_paths(TinyG(), inputs, src, CPU, overwrite=True)
    assert _snapshot(src) == before


def test_cli_same_folder_is_refused_before_loading_the_checkpoint(tmp_path, capsys):
    _img(tmp_path / "a.png")
    before = _snapshot(tmp_path)
    assert main(["apply", "--ckpt", str(tmp_path / "none.pt"), str(tmp_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "holds the input" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before


def test_clashing_names_are_unique_and_the_count_is_true(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, name in enumerate(["a.jpg", "a.png", "a_1.png", "A.bmp"]):
        _img(src / name, seed=i)
    report = apply_paths(TinyG(), [str(src)], tmp_path / "out", CPU)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(report.written) == len(names) == 4
    assert sorted(p.name for p in report.written) == names
    assert {"a.png", "a_1.png", "a.jpg.png"} <= set(names)


def test_unique_names_from_globs_across_folders_ignore_case(tmp_path):
    """x/A.png and y/a.png would be one file on a macOS or Windows disk."""
    for d, name in (("x", "A.png"), ("y", "a.png")):
        (tmp_path / d).mkdir()
        _img(tmp_path / d / name)
    items, _ = collect_inputs([str(tmp_path / "*" / "*.png")])
    assert len(items) == 2 and len({rel.as_posix().lower() for _, rel in items}) == 2


def test_existing_outputs_need_overwrite(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    _img(src / "a.png")
    (out / "a.png").write_bytes(b"an earlier result")
    with pytest.raises(TranslateError, match="--overwrite"):
        apply_paths(TinyG(), [str(src)], out, CPU)
    assert (out / "a.png").read_bytes() == b"an earlier result"
    report = apply_paths(TinyG(), [str(src)], out, CPU, overwrite=True)
    assert report.written == [out / "a.png"] and Image.open(out / "a.png").size == (16, 16)


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    _img(tmp_path / "a.png")
    (tmp_path / "result.png").write_bytes(b"keep me")
    code = main(["apply", "--ckpt", str(tmp_path / "none.pt"), str(tmp_path / "a.png"),
                 "--out", str(tmp_path / "result.png")])
    err = capsys.readouterr().err
    assert code == 2 and "is an existing file" in err and "Traceback" not in err
    assert (tmp_path / "result.png").read_bytes() == b"keep me"


def _two_images_second_save_fails(tmp_path, monkeypatch, code):
    """``tmp_path/in`` with a.png and b.png; saving the second output writes a few bytes, then fails with ``code``."""
    src = tmp_path / "in"
    src.mkdir()
    _img(src / "a.png")
    _img(src / "b.png", seed=1)
    real_save = Image.Image.save
    calls = []

    def failing_save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == 2:
            fp.write(b"\x89PNG partial")
            raise OSError(code, os.strerror(code))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", failing_save)
    return src


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_write_failure_leaves_no_partial_file_and_one_line(tmp_path, monkeypatch, code):
    src, out = _two_images_second_save_fails(tmp_path, monkeypatch, code), tmp_path / "out"
    with pytest.raises(TranslateError) as e:
        apply_paths(TinyG(), [str(src)], out, CPU)
    assert "b.png" in str(e.value) and os.strerror(code) in str(e.value) and "\n" not in str(e.value)
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]  # no 0-byte or truncated b.png, no temp file
    assert Image.open(out / "a.png").size == (16, 16)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_named_pipe_is_skipped_not_waited_on(tmp_path):
    """Run in a subprocess with a timeout: the old code blocked forever opening the pipe."""
    src = tmp_path / "in"
    src.mkdir()
    _img(src / "good.png")
    os.mkfifo(src / "pipe.png")
    os.mkfifo(tmp_path / "named.png")
    code = (f"import torch, sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "from test_apply_faults import TinyG\n"
            "from translate.apply import apply_paths\n"
            f"r = apply_paths(TinyG(), [{str(src)!r}, {str(tmp_path / 'named.png')!r}], {str(tmp_path / 'out')!r},"
            " torch.device('cpu'))\n"
            "print(sorted(p.name for p in r.written), sorted(s.rsplit('/', 1)[-1] for s, _ in r.skipped))\n")
    # 180 s: importing torch on a loaded machine can take a minute; the old code blocked forever.
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['good.png'] ['named.png', 'pipe.png']"
    assert "named pipe" in res.stderr


def test_unsupported_files_are_reported(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    _img(src / "good.png")
    Image.new("RGB", (8, 8)).save(src / "anim.gif")
    report = apply_paths(TinyG(), [str(src)], tmp_path / "out", CPU)
    assert [p.name for p in report.written] == ["good.png"]
    assert [Path(s).name for s, _ in report.skipped] == ["anim.gif"]
    assert "not a supported image type" in report.skipped[0][1]


def test_too_many_pixels_is_refused_before_decoding(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _img(src / "small.png")
    _img(src / "huge.png", 300, 200)
    report = apply_paths(TinyG(), [str(src)], tmp_path / "out", CPU, max_pixels=300 * 200 - 1)
    assert [p.name for p in report.written] == ["small.png"]
    (failed, reason), = report.failed
    assert failed.endswith("huge.png") and "300x200" in reason and "resize" in reason


def test_out_of_memory_names_the_image(tmp_path):
    class HungryG(TinyG):
        def forward(self, x):
            if x.shape[-1] > 32:
                raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                                   "you tried to allocate 309237645312 bytes")
            return super().forward(x)

    src = tmp_path / "in"
    src.mkdir()
    _img(src / "big.png", 64, 64)
    _img(src / "small.png")
    report = apply_paths(HungryG(), [str(src)], tmp_path / "out", CPU)
    assert [p.name for p in report.written] == ["small.png"]
    (failed, reason), = report.failed
    assert failed.endswith("big.png") and "out of memory" in reason and "resize" in reason


@pytest.mark.slow
def test_cli_counts_the_files_it_wrote(smoke_run, tmp_path, capsys):
    """The issue's reproduction with a trained checkpoint: a.jpg, a.png, a_1.png used to give 2 files, "wrote 3"."""
    src = tmp_path / "in"
    src.mkdir()
    for i, name in enumerate(["a.jpg", "a.png", "a_1.png"]):
        _img(src / name, seed=i)
    before = _snapshot(src)
    assert main(["apply", "--ckpt", str(smoke_run), str(src), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg.png", "a.png", "a_1.png"]
    assert "wrote 3 image(s)" in err and _snapshot(src) == before
    assert main(["apply", "--ckpt", str(smoke_run), str(src), "--out", str(tmp_path / "out")]) == 2  # no --overwrite


def test_atomic_writes_keep_the_usual_file_mode(tmp_path):
    """Issue 11 sweep: outputs written through mkstemp temp files came out 0600, unreadable to anyone else."""
    from translate.datasets.imageio import save_image
    from translate.atomic import write_text

    old = os.umask(0o022)
    try:
        image = save_image(torch.zeros(3, 8, 8), tmp_path / "a.png")
        text = write_text("{}", tmp_path / "metrics.json")
    finally:
        os.umask(old)
    assert oct(image.stat().st_mode & 0o777) == oct(text.stat().st_mode & 0o777) == "0o644"


def test_cli_write_error_starts_its_own_line(tmp_path, monkeypatch, capsys):
    """Issue 11 sweep: a full disk mid-run printed 'apply 1/2 | 3.1 img/serror: ...' (the progress line unended)."""
    src = _two_images_second_save_fails(tmp_path, monkeypatch, errno.ENOSPC)
    code = main(["apply", "--ckpt", "demo", str(src), "--out", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    errors = [line for line in err.replace("\r", "\n").splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: cannot write")
