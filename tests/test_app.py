"""Web demo, without a server: page building, checkpoint catalog safety, prediction sizes, limits, batch."""
import shutil
import zipfile

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from translate.app import Limits, DemoService, build_demo
from translate.app.handlers import DemoHandlers
from translate.app.runs import CheckpointCatalog
from translate.cli import build_parser
from translate.errors import CheckpointError, DataError


def _rgb(path, w, h, seed=0):
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture(scope="module")
def runs(smoke_run, tmp_path_factory):
    """A runs folder with two copies of the smoke run and one unreadable checkpoint."""
    root = tmp_path_factory.mktemp("runs")
    for name in ("alpha", "beta"):
        (root / name / "ckpt").mkdir(parents=True)
        shutil.copy(smoke_run / "ckpt" / "latest.pt", root / name / "ckpt" / "latest.pt")
    (root / "broken" / "ckpt").mkdir(parents=True)
    (root / "broken" / "ckpt" / "latest.pt").write_bytes(b"not a checkpoint")
    return root


@pytest.fixture(scope="module")
def handlers(runs):
    catalog = CheckpointCatalog(runs_dir=runs)
    catalog.scan()
    return DemoHandlers(DemoService(catalog, torch.device("cpu"), Limits(max_side=64, max_upload_mb=0.05)))


def _component(demo, elem_id):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def test_build_demo_with_smoke_checkpoint(smoke_run):
    demo = build_demo(ckpt=smoke_run, device="cpu")
    assert isinstance(demo, gr.Blocks)
    picker = _component(demo, "ckpt-picker")
    (label,) = [c[0] for c in picker.choices]
    assert label.endswith("step 6 · smoke · demo") and picker.value == label
    assert len(_component(demo, "examples").value) == 6  # the smoke set's testA images
    assert "1024 px" in _component(demo, "cap-note").value  # the resolution cap is stated on the page
    jobs = {f.api_name: f for f in demo.fns.values() if f.api_name in ("translate", "translate_batch")}
    # A bounded queue, and one translation job at a time across both tabs.
    assert len(jobs) == 2 and demo._queue.max_size == 16
    assert all(f.queue and f.concurrency_limit == 1 and f.concurrency_id == "translate" for f in jobs.values())


def test_catalog_labels_runs_and_refuses_anything_else(runs, handlers):
    labels = handlers.catalog.labels
    assert [lbl.split(" ·")[0] for lbl in labels] == ["alpha", "beta"]
    assert all("step 6 · smoke · demo" in lbl for lbl in labels)
    assert len(handlers.catalog.skipped) == 1 and "broken" in handlers.catalog.skipped[0]
    for typed in (str(runs / "alpha" / "ckpt" / "latest.pt"), "/etc/passwd", "", None):
        with pytest.raises(CheckpointError):
            handlers.catalog.get(typed)


def test_prediction_returns_an_image_of_the_inputs_size(handlers, tmp_path):
    label = handlers.catalog.labels[0]
    out, download, status, pair = handlers.translate_one(str(_rgb(tmp_path / "odd.png", 37, 23)), label, 0)
    with Image.open(out) as img:
        assert img.size == (37, 23) and img.mode == "RGB" and img.format == "PNG"
    assert download["value"] == out and download["visible"] is True
    assert "37×23" in status and " ms" in status and pair == (str(tmp_path / "odd.png"), out)


def test_resolution_cap_downscales_and_says_so(handlers, tmp_path):
    result = handlers.translator.translate_file(_rgb(tmp_path / "wide.png", 160, 40), handlers.catalog.labels[0])
    assert result.in_size == (160, 40) and result.out_size == (64, 16) and result.downscaled
    assert Image.open(result.png).size == (64, 16)


def test_bad_uploads_are_messages_not_tracebacks(handlers, tmp_path):
    label = handlers.catalog.labels[0]
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    with pytest.raises(gr.Error, match="notes.png: not an image"):
        handlers.translate_one(str(text), label, 0)
    big = _rgb(tmp_path / "big.png", 200, 200)  # about 120 kB of noise, over the 0.05 MB limit
    with pytest.raises(gr.Error, match="over this demo's upload limit"):
        handlers.translate_one(str(big), label, 0)
    with pytest.raises(gr.Error, match="Upload an image first"):
        handlers.translate_one(None, label, 0)
    with pytest.raises(gr.Error, match="not offered by this demo"):
        handlers.translate_one(str(_rgb(tmp_path / "ok.png", 8, 8)), str(handlers.catalog.labels[0]) + "x", 0)


def test_pixel_limit_is_checked_before_decoding(handlers, tmp_path):
    tr = DemoService(handlers.catalog, torch.device("cpu"), Limits(max_pixels=1000))
    with pytest.raises(DataError, match="megapixels"):
        tr.check_upload(_rgb(tmp_path / "a.png", 40, 40), "a.png")


def test_batch_gives_gallery_and_zip_and_skips_bad_files(handlers, tmp_path):
    good = [str(_rgb(tmp_path / f"{i}.png", 20 + i, 24, seed=i)) for i in range(2)]
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.warns(UserWarning, match="Skipped bad.png: not an image"):  # gr.Warning outside a request
        gallery, zip_update, status = handlers.translate_many([*good, str(tmp_path / "bad.png")],
                                                              handlers.catalog.labels[0], 0)
    assert [Image.open(p).size for p, _ in gallery] == [(20, 24), (21, 24)]
    with zipfile.ZipFile(zip_update["value"]) as zf:
        assert sorted(zf.namelist()) == ["0_translated.png", "1_translated.png"]
    assert "skipped 1" in status


def test_refinement_control_hidden_without_D(smoke_run, tmp_path):
    state = torch.load(smoke_run / "ckpt" / "latest.pt", weights_only=True)
    del state["models"]["D"]
    (tmp_path / "noD" / "ckpt").mkdir(parents=True)
    torch.save(state, tmp_path / "noD" / "ckpt" / "latest.pt")
    catalog = CheckpointCatalog(runs_dir=tmp_path)
    (info,) = catalog.scan()
    h = DemoHandlers(DemoService(catalog, torch.device("cpu")))
    assert not info.has_D
    assert h.checkpoint_view(info.label)[1]["visible"] is False
    with pytest.raises(gr.Error, match="has no D"):
        h.translate_one(str(_rgb(tmp_path / "x.png", 16, 16)), info.label, 3)


def test_demo_command_is_local_and_private_by_default():
    args = build_parser().parse_args(["demo", "--runs", "runs"])
    assert args.host == "127.0.0.1" and args.share is False and args.ckpt is None
    with pytest.raises(SystemExit):  # one source of checkpoints at a time
        build_parser().parse_args(["demo", "--runs", "runs", "--ckpt", "x.pt"])


def test_demo_command_reports_a_missing_runs_folder(tmp_path, capsys):
    from translate.cli import main

    assert main(["demo", "--runs", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0] and "is not a folder" in err[0]


def test_empty_runs_folder_builds_a_page_that_says_what_to_do(tmp_path):
    demo = build_demo(runs_dir=tmp_path, device="cpu")
    picker = _component(demo, "ckpt-picker")
    assert picker.choices == [] and "translate train demo" in picker.info
    with pytest.raises(gr.Error, match="no checkpoint selected"):
        DemoHandlers(demo.translator).translate_one(str(_rgb(tmp_path / "a.png", 8, 8)), None)


def test_examples_never_download_a_missing_named_dataset(monkeypatch, tmp_path):
    import translate.datasets.zoo as zoo
    from translate.app.runs import example_images
    from translate.config import load_config

    monkeypatch.setattr(zoo, "ensure_dataset", lambda *a, **k: pytest.fail("tried to fetch a dataset"))
    cfg = load_config("smoke", ["dataset=horse2zebra", f"data.root={tmp_path / 'gone'}"])
    assert example_images(cfg) == []
    (tmp_path / "mine" / "testA").mkdir(parents=True)
    _rgb(tmp_path / "mine" / "testA" / "x.png", 8, 8)
    cfg = load_config("smoke", [f"dataset={tmp_path / 'mine'}"])
    assert [p.name for p in example_images(cfg)] == ["x.png"]


def test_refinement_control_shown_with_D_and_refines(handlers, tmp_path):
    label = handlers.catalog.labels[0]
    assert handlers.catalog.get(label).has_D and handlers.checkpoint_view(label)[1]["visible"] is True
    src = _rgb(tmp_path / "r.png", 30, 22)
    plain = handlers.translator.translate_file(src, label, 0)
    refined = handlers.translator.translate_file(src, label, 3)
    assert refined.out_size == (30, 22) and refined.refine_steps == 3
    assert (refined.image - plain.image).abs().max() > 1e-3  # Langevin steps under D moved the pixels
    with pytest.raises(gr.Error, match="refinement steps: expected 0 to 50"):
        handlers.translate_one(str(src), label, 51)


def test_old_output_folders_are_pruned(handlers, tmp_path):
    import os
    import time

    tr = DemoService(handlers.catalog, torch.device("cpu"), out_dir=tmp_path / "out")
    old = tmp_path / "out" / "stale"
    old.mkdir(parents=True)
    (old / "x_translated.png").write_bytes(b"")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    result = tr.translate_file(_rgb(tmp_path / "x.png", 8, 8), handlers.catalog.labels[0])
    assert not old.exists() and result.png.is_file()
