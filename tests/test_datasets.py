"""Tests for translate.datasets: image I/O, transforms, folder layouts and index-based sampling."""
from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from translate.config import DataConfig
from translate.datasets.folder import (SampleSampler, UnpairedImages, build_dataset, build_loader,
                                       first_sample_index, fixed_images, mix_seed, resolve_layout)
from translate.datasets.imageio import find_images, load_image, pil_to_tensor, save_image, tensor_to_pil, tile_images
from translate.datasets.transforms import PREPROCESS_MODES, TestTransform, TrainTransform
from translate.errors import DataError


def write_image(path: Path, size=(40, 30), seed=0, mode="RGB") -> Path:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).convert(mode).save(path)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    for i in range(5):
        write_image(tmp_path / "data" / "trainA" / f"a{i}.png", seed=i)
    for i in range(3):
        write_image(tmp_path / "data" / "trainB" / f"b{i}.jpg", seed=10 + i)
    return tmp_path / "data"


def make_dataset(root: Path, seed=0, **kw) -> UnpairedImages:
    files_a, files_b = resolve_layout(root)
    return UnpairedImages(files_a, files_b, TrainTransform("resize_and_crop", 36, 32, True), seed, **kw)


# ---------------------------------------------------------------------------------------------
# imageio


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "1"])
def test_load_image_converts_modes_to_rgb(tmp_path, mode):
    path = write_image(tmp_path / f"x.{'jpg' if mode == 'CMYK' else 'png'}", mode=mode)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (40, 30)


def test_palette_with_transparency_converts_without_warning(tmp_path, recwarn):
    img = Image.new("P", (4, 4))
    img.putpalette([255, 0, 0, 0, 255, 0] * 128)
    img.save(tmp_path / "p.png", transparency=0)
    out = load_image(tmp_path / "p.png")
    assert out.getpixel((0, 0)) == (255, 0, 0)  # alpha dropped, colour kept
    assert not [w for w in recwarn if "ransparency" in str(w.message)]


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_is_scaled_not_clipped(tmp_path, ext):
    arr = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(arr).save(tmp_path / f"x.{ext}")
    img = load_image(tmp_path / f"x.{ext}")
    assert [img.getpixel((i, 0))[0] for i in range(4)] == [0, 1, 128, 255]


def test_32bit_int_tiff_is_scaled_as_16bit(tmp_path):
    Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.int32)).save(tmp_path / "x.tif")
    assert [load_image(tmp_path / "x.tif").getpixel((i, 0)) for i in range(3)] == [(0,) * 3, (128,) * 3, (255,) * 3]


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.new("RGB", (40, 20), "red").save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_corrupt_truncated_and_missing_files_raise_data_error(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    good = write_image(tmp_path / "good.png", size=(64, 64)).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    for name in ("junk.png", "cut.png", "missing.png"):
        with pytest.raises(DataError, match=name):
            load_image(tmp_path / name)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = write_image(tmp_path / "big.png", size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64*64 > 2 * 100: PIL raises, not warns
    with pytest.raises(DataError, match="big.png"):
        load_image(path)


def test_tensor_round_trip_and_save(tmp_path):
    img = load_image(write_image(tmp_path / "x.png"))
    t = pil_to_tensor(img)
    assert t.shape == (3, 30, 40) and t.dtype == torch.float32 and t.min() >= -1 and t.max() <= 1
    assert np.array_equal(np.asarray(tensor_to_pil(t)), np.asarray(img))
    assert np.asarray(tensor_to_pil(torch.full((3, 2, 2), 5.0))).min() == 255  # clamped
    out = save_image(t, tmp_path / "sub" / "y.png")
    with Image.open(out) as saved:
        assert np.array_equal(np.asarray(saved), np.asarray(img))
    with pytest.raises(ValueError, match="shape"):
        tensor_to_pil(torch.zeros(2, 3, 4, 4))


@pytest.mark.parametrize("n, nrow", [(6, 2), (5, 3), (2, 4), (1, 1)])
def test_tile_images_lays_out_as_torchvision_make_grid(n, nrow):
    make_grid = pytest.importorskip("torchvision.utils").make_grid
    tiles = torch.rand(n, 3, 5, 7) * 2 - 1
    grid = tile_images(tiles, nrow)
    expected = make_grid(tiles, nrow=nrow, padding=2, pad_value=1.0)
    if n == 1:  # make_grid returns a single image unpadded; the sample grids keep their frame
        assert torch.equal(grid[:, 2:-2, 2:-2], expected) and grid[:, :2].eq(1).all()
    else:
        assert torch.equal(grid, expected)


def test_save_image_picks_the_format_from_the_extension(tmp_path):
    t = torch.zeros(3, 4, 4)
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        with Image.open(save_image(t, tmp_path / f"x{suffix}")) as saved:
            assert saved.size == (4, 4)
    with pytest.raises(ValueError, match="unknown image extension"):
        save_image(t, tmp_path / "x.nope")


def test_find_images_skips_hidden_and_non_images(tmp_path):
    base = tmp_path / ".cache" / "set"  # a hidden folder *above* the root does not count
    for rel in ["b.png", "a.JPG", "sub/c.webp", ".hidden.png", ".git/d.png", "notes.txt", "__MACOSX/._e.png"]:
        write_image(base / rel) if rel.lower().endswith((".png", ".jpg", ".webp")) else None
    (base / "notes.txt").write_text("x")
    assert [p.relative_to(base).as_posix() for p in find_images(base)] == ["a.JPG", "b.png", "sub/c.webp"]
    with pytest.raises(DataError, match="not a folder"):
        find_images(tmp_path / "nope")


# ---------------------------------------------------------------------------------------------
# transforms


@pytest.mark.parametrize("mode", PREPROCESS_MODES)
def test_train_transform_shapes_and_range(mode):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (51, 70, 3), dtype=np.uint8))
    out = TrainTransform(mode, 48, 32, flip=True)(img, random.Random(0))
    expected = {"resize_and_crop": (32, 32), "crop": (32, 32), "scale_width_and_crop": (32, 32),
                "scale_width": (32, 48), "none": (52, 72)}[mode]  # (H, W), rounded to multiples of 4 as Python's round() does
    assert out.shape == (3, *expected)
    assert out.min() >= -1 and out.max() <= 1
    again = TrainTransform(mode, 48, 32, flip=True)(img, random.Random(0))
    assert torch.equal(out, again)


def test_no_jitter_uses_crop_size_as_load_size():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8))
    t = TrainTransform("resize_and_crop", 48, 32, flip=False)
    whole = TestTransform(32)(img)
    assert torch.equal(t(img, random.Random(1), no_jitter=True), whole)
    assert not torch.equal(t(img, random.Random(1)), whole)


def test_small_image_is_upscaled_with_one_warning(caplog):
    t = TrainTransform("crop", 48, 32, flip=False)
    small = Image.new("RGB", (20, 10))
    with caplog.at_level(logging.WARNING):
        out = t(small, random.Random(0), source="tiny.png")
        t(small, random.Random(1), source="tiny.png")
    assert out.shape == (3, 32, 32)
    warnings = [r.getMessage() for r in caplog.records if "smaller than" in r.getMessage()]
    assert len(warnings) == 1 and "tiny.png" in warnings[0] and "20x10" in warnings[0]


# ---------------------------------------------------------------------------------------------
# sampling


def test_sampling_is_a_pure_function_of_index_and_seed(root):
    ds1, ds2, other = make_dataset(root), make_dataset(root), make_dataset(root, seed=1)
    for k in (0, 3, 17):
        x, y = ds1[k], ds2[k]
        assert torch.equal(x["a"], y["a"]) and torch.equal(x["b"], y["b"]) and x["a_path"] == y["a_path"]
    assert any(not torch.equal(ds1[k]["a"], other[k]["a"]) for k in range(3))
    for epoch in range(3):  # each epoch visits every A image once
        assert sorted(ds1.index_a(k) for k in range(epoch * 5, epoch * 5 + 5)) == list(range(5))
    assert mix_seed(0, 1) != mix_seed(1, 0) and mix_seed(-1, 2**70) >= 0


def test_sampler_resume_and_rank_split():
    from_zero = SampleSampler(0, 3)
    it0, it5 = iter(from_zero), iter(SampleSampler(5, 3))
    head = [next(it0) for _ in range(30)]
    assert head[15:] == [next(it5) for _ in range(15)]
    assert head == list(range(30))
    ranks = [iter(SampleSampler(2, 3, rank=r, world_size=2)) for r in range(2)]
    for step in range(2, 6):
        got = [next(ranks[r]) for r in range(2) for _ in range(3)]
        assert sorted(got) == list(range(step * 6, step * 6 + 6))
    assert first_sample_index(4, 3, 2) == 24
    with pytest.raises(ValueError):
        SampleSampler(0, 2, rank=2, world_size=2)


def test_no_jitter_from_switches_on_at_the_index(root):
    ds = make_dataset(root, no_jitter_from=4)
    whole = TestTransform(32)(load_image(ds[4]["a_path"]))
    flipped = torch.flip(whole, dims=[2])
    assert torch.equal(ds[4]["a"], whole) or torch.equal(ds[4]["a"], flipped)


def test_corrupt_file_is_skipped_once_and_iteration_continues(root, caplog):
    bad = root / "trainA" / "a2.png"
    bad.write_bytes(b"garbage")
    ds = make_dataset(root)
    loader = iter(build_loader(ds, DataConfig(batch_size=2), start_step=0))
    with caplog.at_level(logging.WARNING):
        batches = [next(loader) for _ in range(6)]  # 12 samples: more than two epochs of A
    assert all(b["a"].shape == (2, 3, 32, 32) for b in batches)
    assert str(bad) not in [p for b in batches for p in b["a_path"]]
    assert ds.bad_files == {str(bad)}
    assert sum("a2.png" in r.getMessage() for r in caplog.records) == 1
    for p in (root / "trainB").iterdir():
        p.write_bytes(b"garbage")
    with pytest.raises(DataError, match="every image of domain B"):
        make_dataset(root)[0]


def test_loader_batches_and_workers_agree(root):
    cfg = DataConfig(root=str(root), load_size=36, crop_size=32, batch_size=2)
    ds = build_dataset(cfg, seed=3)
    serial = iter(build_loader(ds, cfg, start_step=1))
    batch = next(serial)
    assert set(batch) == {"a", "b", "a_path", "b_path"} and len(batch["b_path"]) == 2
    assert torch.equal(batch["a"][1], ds[3]["a"])  # step 1, item 1 -> k = 3
    cfg.num_workers = 1
    parallel = iter(build_loader(ds, cfg, start_step=1))
    assert torch.equal(next(parallel)["b"], batch["b"])


# ---------------------------------------------------------------------------------------------
# layouts


def test_layout_errors_show_the_expected_tree(tmp_path, root):
    with pytest.raises(DataError, match="does not exist") as e:
        resolve_layout(tmp_path / "nope")
    assert "trainA/  images of domain A" in str(e.value)
    (root / "trainB").rename(root / "other")
    with pytest.raises(DataError, match=r"no trainB/.*contains: other/, trainA/") as e:
        resolve_layout(root)
    assert "trainB/  images of domain B" in str(e.value)
    (root / "trainB").mkdir()
    (root / "trainB" / "readme.txt").write_text("no images")
    with pytest.raises(DataError, match="no images of domain B") as e:
        resolve_layout(root)
    assert f"{root}/testA/" in str(e.value)
    with pytest.raises(DataError, match="data.domain_b"):
        resolve_layout(domain_a=root / "trainA")


def test_test_split_falls_back_to_val_and_two_folders(tmp_path, root):
    write_image(root / "valA" / "x.png")
    write_image(root / "valB" / "y.png")
    a, b = resolve_layout(root, split="test")
    assert [p.name for p in a] == ["x.png"] and [p.name for p in b] == ["y.png"]
    a, b = resolve_layout(domain_a=root / "trainA", domain_b=root / "valB")
    assert len(a) == 5 and len(b) == 1
    ds = build_dataset(DataConfig(root=str(root), crop_size=16, max_images=2), split="test")
    assert ds.n_a == 1 and ds[7]["a"].shape == (3, 16, 16)
    assert build_dataset(DataConfig(root=str(root), max_images=2)).n_a == 2


def test_fixed_images_skips_bad_files(root):
    (root / "trainA" / "a0.png").write_bytes(b"bad")
    files, _ = resolve_layout(root)
    grid = fixed_images(files, 3, 24)
    assert grid.shape == (3, 3, 24, 24)
    assert torch.equal(grid[0], TestTransform(24)(load_image(root / "trainA" / "a1.png")))
    assert fixed_images(files, 10, 24).shape[0] == 4


# ---------------------------------------------------------------------------------------------
# additions for the zoo issue: bomb warnings refused, skipped files counted, all extensions found


def test_image_in_pils_warning_band_is_refused_too(tmp_path, monkeypatch):
    path = write_image(tmp_path / "big.png", size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 4096 pixels: above the limit, below twice it
    with pytest.raises(DataError, match="big.png: image refused as too large"):
        load_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    assert load_image(path).size == (64, 64)


def test_skipped_files_are_counted_in_the_warnings(root, caplog):
    for name in ("a1.png", "a3.png"):
        (root / "trainA" / name).write_bytes(b"garbage")
    ds = make_dataset(root)
    with caplog.at_level(logging.WARNING):
        for k in range(10):
            ds[k]
    messages = [r.getMessage() for r in caplog.records if "skipping unreadable" in r.getMessage()]
    assert len(messages) == 2 and "(1 skipped" in messages[0] and "(2 skipped" in messages[1]
    assert len(ds.bad_files) == 2


def test_every_supported_extension_is_found_recursively(tmp_path):
    for i, ext in enumerate(["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "JPG"]):
        write_image(tmp_path / "A" / f"d{i % 3}" / f"x{i}.{ext}", seed=i)
    (tmp_path / "A" / "d0" / "x.gif").write_bytes(b"GIF89a")
    files = find_images(tmp_path / "A")
    assert len(files) == 8 and all(load_image(f).mode == "RGB" for f in files)
