"""Making a bundled demo checkpoint (benchmarks/make_demo_checkpoint.py), resolving ``--ckpt demo``, and
``translate demo`` with no arguments, on a stand-in bundled file made from the smoke run (never the real one).
"""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from translate.runfolder import bundled

REPO = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_script():
    return _script("make_demo_checkpoint")


@pytest.fixture(scope="module")
def standin(smoke_run, tmp_path_factory, make_script):
    """A stand-in translate/assets/: the smoke run made into demo.pt + demo.json, with D kept."""
    assets = tmp_path_factory.mktemp("assets")
    assert make_script.main([str(smoke_run / "ckpt" / "latest.pt"), "--out", str(assets / "demo.pt"),
                             "--with-d"]) == 0
    return assets


@pytest.fixture()
def assets(standin, monkeypatch):
    monkeypatch.setattr(bundled, "ASSETS", standin)
    return standin


def test_made_file_is_slim_safe_and_records_how_to_reproduce(standin, smoke_run):
    from translate.metrics.demo_floors import below_floors
    from translate.runfolder.translator import load_translator

    state = torch.load(standin / "demo.pt", map_location="cpu", weights_only=True)
    assert set(state["models"]) == {"G", "D"} and "optim" not in state and "rng" not in state
    full = torch.load(smoke_run / "ckpt" / "latest.pt", map_location="cpu", weights_only=True)
    assert (standin / "demo.pt").stat().st_size < (smoke_run / "ckpt" / "latest.pt").stat().st_size
    gen = "G_ema" if "G_ema" in full["models"] else "G"
    assert all(torch.equal(v, full["models"][gen][k]) for k, v in state["models"]["G"].items())
    bundle = state["bundle"]
    assert bundle["command"].startswith("translate train demo --config smoke")
    assert bundle["seed"] == 0 and bundle["source_step"] == 6 and bundle["generator"] == gen
    record = json.loads((standin / "demo.json").read_text())
    assert record["bundle"] == bundle and record["scored"]["n_images"] == 6
    assert below_floors(record["scored"], record["floors"]) == []
    worse = dict(record["scored"], mode_accuracy=record["floors"]["mode_accuracy_min"] - 0.01,
                 kid=record["floors"]["kid_max"] * 2 + 1)
    assert len(below_floors(worse, record["floors"])) == 2  # the floors do catch a worse model
    blobs = dict(record["scored"], shape_iou=record["floors"]["shape_iou_min"] - 0.01,
                 gt_bg_l1=record["floors"]["gt_bg_l1_max"] + 0.01)
    assert [line.split(" =")[0] for line in below_floors(blobs, record["floors"])] == ["gt_bg_l1", "shape_iou"]
    old = {k: v for k, v in record["floors"].items() if not k.startswith(("shape_iou", "gt_bg_l1"))}
    assert below_floors(blobs, old) == []  # a record from before those floors is held to the three it has
    t = load_translator(standin / "demo.pt", with_discriminator=True)
    cfg, D = t.cfg, t.D
    assert cfg.preset == "smoke" and D is not None


def test_refuses_to_overwrite_and_leaves_nothing_half_written(standin, smoke_run, make_script, tmp_path, capsys):
    src = str(smoke_run / "ckpt" / "latest.pt")
    before = (standin / "demo.pt").read_bytes()
    assert make_script.main([src, "--out", str(standin / "demo.pt")]) == 2
    assert "--overwrite" in capsys.readouterr().err and (standin / "demo.pt").read_bytes() == before
    out = tmp_path / "a" / "demo.pt"
    make_script.MAX_BYTES, limit = 1000, make_script.MAX_BYTES
    try:
        assert make_script.main([src, "--out", str(out)]) == 2
    finally:
        make_script.MAX_BYTES = limit
    assert "over the" in capsys.readouterr().err and list(out.parent.iterdir()) == []


def test_refuses_an_unfinished_run(smoke_run, make_script, tmp_path, capsys):
    from translate.runfolder.schema import save_checkpoint

    state = torch.load(smoke_run / "ckpt" / "latest.pt", map_location="cpu", weights_only=True)
    state["step"] = 3
    save_checkpoint(state, tmp_path / "half.pt")
    assert make_script.main([str(tmp_path / "half.pt"), "--out", str(tmp_path / "demo.pt")]) == 2
    assert "stopped at step 3 of 6" in capsys.readouterr().err and not (tmp_path / "demo.pt").exists()


def test_ckpt_demo_resolves_to_the_bundled_file_unless_dot_demo_exists(assets, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert bundled.resolve_checkpoint("demo") == assets / "demo.pt"
    assert bundled.resolve_checkpoint("runs/x") == Path("runs/x")
    (tmp_path / "demo").mkdir()  # a run folder the user named demo: the visible path wins, with a warning
    assert bundled.resolve_checkpoint("demo") == Path("demo")
    assert "bundled demo checkpoint is" in caplog.text


def test_missing_bundled_file_is_one_line_saying_how_to_make_it(tmp_path, monkeypatch, capsys):
    from translate.cli import main

    monkeypatch.setattr(bundled, "ASSETS", tmp_path / "nothing")
    monkeypatch.chdir(tmp_path)
    for argv in (["demo"], ["apply", "--ckpt", "demo", str(tmp_path), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "make_demo_checkpoint.py" in err and "Traceback" not in err


def test_apply_ckpt_demo(assets, tmp_path, monkeypatch):
    from translate.cli import main
    from translate.runfolder.bundled import demo_test_images
    from translate.runfolder.translator import load_translator

    monkeypatch.chdir(tmp_path)
    src = tmp_path / "in"
    src.mkdir()
    for f in demo_test_images(load_translator(assets / "demo.pt").cfg, 2):
        (src / f.name).write_bytes(f.read_bytes())
    assert main(["apply", "--ckpt", "demo", "in", "--out", "out"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in src.iterdir())


def test_demo_with_no_arguments_serves_the_bundled_file_on_localhost(assets, monkeypatch):
    import translate.app
    from translate.cli import main

    seen = {}
    monkeypatch.setattr(translate.app, "launch_demo", lambda runs, ckpt, **kw: seen.update(runs=runs, ckpt=ckpt, **kw))
    assert main(["demo"]) == 0
    assert seen["runs"] is None and seen["ckpt"] == assets / "demo.pt" and seen["host"] == "127.0.0.1"
    assert main(["demo", "--runs", "runs"]) == 0 and seen["runs"] == "runs" and seen["ckpt"] is None


def test_bundled_page_offers_every_variant_first(assets, data_home):
    from translate.app import build_demo

    demo = build_demo(ckpt=assets / "demo.pt", device="cpu")
    catalog = demo.translator.catalog
    assert catalog.labels[0].startswith("bundled demo model")
    root = bundled.demo_test_images(catalog.get(catalog.labels[0]).config, 1)[0].parent.parent
    labels = json.loads((root / "labels.json").read_text())["testA"]
    files = bundled.demo_test_images(catalog.get(catalog.labels[0]).config, 6)
    variants = [labels[f.name] for f in files]
    assert variants[: len(set(labels.values()))] == sorted(set(labels.values()))  # 0, 1, 2 first


def test_variant_order_interleaves():
    labels = {"a": 0, "b": 0, "c": 1, "d": 2, "e": 2}
    assert bundled._variant_order(labels, sorted(labels)) == ["a", "c", "d", "b", "e"]


def test_figure_script_writes_input_and_output_rows(assets, tmp_path, capsys):
    fig = _script("demo_figure")
    out = tmp_path / "fig.png"
    assert fig.main(["--ckpt", "demo", "--out", str(out), "--n", "3", "--scale", "2"]) == 0
    from PIL import Image

    w, h = Image.open(out).size
    assert w == 3 * 64 + 2 * 4 and h == 2 * (64 + fig.LABEL_H)  # smoke images are 32 px, enlarged twice
    assert fig.main(["--ckpt", "demo", "--out", str(out)]) == 2 and "--overwrite" in capsys.readouterr().err


def test_figure_script_draws_one_row_per_checkpoint_and_reads_reference_weights(assets, tmp_path):
    """``LABEL=PATH`` rows under the same inputs; a .pth is the CUT reference's saved G (DataParallel names)."""
    import torch
    from PIL import Image

    from translate.runfolder.translator import load_translator

    fig = _script("demo_figure")
    G = load_translator(assets / "demo.pt").G
    torch.save({f"module.{k}": v for k, v in G.state_dict().items()}, tmp_path / "latest_net_G.pth")
    out = tmp_path / "cmp.png"
    argv = ["--ckpt", "CUT=demo", "--ckpt", f"ref={tmp_path / 'latest_net_G.pth'}", "--n", "2", "--scale", "1"]
    assert fig.main([*argv, "--out", str(out)]) == 0
    img = Image.open(out).convert("RGB")
    assert img.size == (fig.MARGIN + 2 * 32 + 4, 3 * (32 + fig.LABEL_H))  # the test set's images are 32 px
    row, x = 32 + fig.LABEL_H, fig.MARGIN  # the same weights give the same pixels in both rows
    assert img.crop((x, row, x + 68, row + 32)).tobytes() == img.crop((x, 2 * row, x + 68, 2 * row + 32)).tobytes()
    assert fig.main(["--ckpt", str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "x.png")]) == 2


def test_eval_of_the_bundled_file_never_writes_into_the_package(assets):
    from translate.commands.eval import _default_out

    out = _default_out(assets / "demo.pt", "test", "tiny")
    assert out == Path("runs/bundled_demo/eval/demo_test_tiny")
