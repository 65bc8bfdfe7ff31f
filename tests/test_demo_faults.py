"""translate demo faults: a port in use (one line, before any checkpoint loads), linked run folders, and checkpoints
that ask for data (never generated)."""
import socket

import pytest

from translate.cli import main


def test_port_in_use_is_a_one_line_error(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["demo", "--runs", str(tmp_path), "--port", str(port), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"--port {port}" in err and "choose another port" in err and len(err.strip().splitlines()) == 1


def _copy_ckpt(smoke_run, run_dir, edit=None):
    """The smoke run's checkpoint at ``run_dir/ckpt/latest.pt``, its config changed by ``edit`` (a dict -> None)."""
    import torch

    ckpt = torch.load(smoke_run / "ckpt" / "latest.pt", map_location="cpu", weights_only=True)
    if edit:
        edit(ckpt["config"])
    (run_dir / "ckpt").mkdir(parents=True)
    torch.save(ckpt, run_dir / "ckpt" / "latest.pt")
    return run_dir


def _picker(demo):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "ckpt-picker")


def test_linked_run_folders_are_listed_and_dead_links_reported(smoke_run, tmp_path):
    from translate.app import build_demo
    from translate.app.runs import CheckpointCatalog

    scratch, runs = tmp_path / "scratch", tmp_path / "runs"
    _copy_ckpt(smoke_run, scratch / "exp1")
    runs.mkdir()
    (runs / "exp1").symlink_to(scratch / "exp1", target_is_directory=True)  # a run kept on scratch storage
    (runs / "gone").symlink_to(tmp_path / "deleted-scratch", target_is_directory=True)
    (runs / "loop").symlink_to(runs, target_is_directory=True)  # a link cycle must end, not hang
    catalog = CheckpointCatalog(runs_dir=runs)
    labels = [info.label.split(" ·")[0] for info in catalog.scan()]
    assert labels == ["exp1"]
    assert len(catalog.skipped) == 1 and "gone" in catalog.skipped[0] and "does not exist" in catalog.skipped[0]

    (runs / "exp1").unlink()  # only the dead link left: the page says how many were skipped and why
    hint = _picker(build_demo(runs_dir=runs, device="cpu")).info
    assert "1 skipped" in hint and "gone" in hint and "translate train demo" in hint


def test_a_checkpoint_never_makes_the_demo_generate_its_dataset(smoke_run, tmp_path, monkeypatch):
    """Issue 11: a checkpoint asking for a 3,000-image synthetic set must not make start-up generate it."""
    import translate.datasets.synthetic as synthetic
    from translate.app import build_demo

    def huge(cfg):
        cfg["data"]["synthetic"].update(n_train=3000, n_test=3000, size=128)
        cfg["data"]["data_root"] = str(tmp_path / "data")

    _copy_ckpt(smoke_run, tmp_path / "runs" / "big", huge)
    monkeypatch.setattr(synthetic, "generate_synthetic", lambda *a, **k: pytest.fail("generated a dataset"))
    monkeypatch.setattr(synthetic, "ensure_synthetic", lambda *a, **k: pytest.fail("asked for a dataset"))
    demo = build_demo(runs_dir=tmp_path / "runs", device="cpu")
    assert [c[0].split(" ·")[0] for c in _picker(demo).choices] == ["big"]  # offered, without examples
    assert not (tmp_path / "data").exists()
