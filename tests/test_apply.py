"""translate apply: any size, any mode, bad inputs skipped, names kept."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translate.apply import apply_paths, collect_inputs, pad_to_multiple
from translate.runfolder.translator import load_translator


@pytest.fixture(scope="module")
def G(smoke_run):
    return load_translator(smoke_run / "ckpt" / "latest.pt").G


def _rgb(path, w, h, mode="RGB"):
    arr = (np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return path


def test_odd_sizes_and_modes_keep_size_and_name(G, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _rgb(src / "odd.png", 37, 23)
    _rgb(src / "tall.jpg", 20, 71)
    _rgb(src / "grey.png", 30, 30, "L")
    _rgb(src / "alpha.png", 33, 17, "RGBA")
    _rgb(src / "tiny.png", 3, 5)
    (src / "sub").mkdir()
    _rgb(src / "sub" / "deep.bmp", 40, 40)
    report = apply_paths(G, [str(src)], tmp_path / "out", torch.device("cpu"), batch_size=2)
    assert report.failed == []
    sizes = {p.relative_to(tmp_path / "out").as_posix(): Image.open(p).size for p in report.written}
    assert sizes == {"odd.png": (37, 23), "tall.png": (20, 71), "grey.png": (30, 30), "alpha.png": (33, 17),
                     "tiny.png": (3, 5), "sub/deep.png": (40, 40)}
    assert all(Image.open(p).mode == "RGB" for p in report.written)


def test_corrupt_file_is_skipped_and_reported(G, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _rgb(src / "good.png", 32, 32)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    data = (src / "good.png").read_bytes()
    (src / "truncated.png").write_bytes(data[: len(data) // 2])
    report = apply_paths(G, [str(src), str(tmp_path / "missing.jpg")], tmp_path / "out", torch.device("cpu"))
    assert [p.name for p in report.written] == ["good.png"]
    failed = {Path(f).name for f, _ in report.failed}
    assert failed == {"broken.png", "truncated.png", "missing.jpg"}


def test_batching_equals_one_at_a_time(G, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        _rgb(src / f"{i}.png", 32, 24)
    one = apply_paths(G, [str(src)], tmp_path / "one", torch.device("cpu"), batch_size=1)
    three = apply_paths(G, [str(src)], tmp_path / "three", torch.device("cpu"), batch_size=3)
    for a, b in zip(one.written, three.written):
        diff = np.abs(np.asarray(Image.open(a), dtype=int) - np.asarray(Image.open(b), dtype=int))
        assert diff.max() <= 1  # batched convolutions may round differently by one level


def test_globs_and_duplicate_stems(tmp_path):
    _rgb(tmp_path / "a.png", 8, 8)
    _rgb(tmp_path / "a.jpg", 8, 8)
    items, missing = collect_inputs([str(tmp_path / "a.*")])
    assert sorted(rel.name for _, rel in items) == ["a.jpg.png", "a.png"] and missing == []


def test_padding_is_cropped_back():
    x = torch.rand(1, 3, 10, 13)
    padded, (h, w) = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (16, 16) and (h, w) == (10, 13)
    assert torch.equal(padded[..., :h, :w], x)
