import os

import pytest
import torch

from translate.runfolder.schema import load_checkpoint, save_checkpoint
from translate.runfolder.translator import load_translator
from translate.errors import CheckpointError


def test_translator_round_trip_gives_the_same_output(smoke_run):
    ckpt = smoke_run / "ckpt" / "latest.pt"
    state = load_checkpoint(ckpt)
    assert state["format"] == 1 and state["step"] == 6 and state["stage"] == "cut"
    assert set(state["models"]) >= {"G", "D", "F"} and set(state["optim"]) == {"D", "G"}
    t = load_translator(ckpt)
    G1, cfg = t.G, t.cfg
    G2 = load_translator(smoke_run).G  # a run folder works too
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y1, y2 = G1(x), G2(x)
    assert cfg.model.ngf == 8
    assert torch.equal(y1, y2)
    from translate.models.cut import build_generator
    G3 = build_generator(cfg.model)
    G3.load_state_dict(state["models"]["G"])
    with torch.no_grad():
        assert torch.equal(G3.eval()(x), y1)


def test_translator_says_what_it_loaded(smoke_run):
    ckpt = smoke_run / "ckpt" / "latest.pt"
    plain = load_translator(ckpt)
    assert (plain.step, plain.stage, plain.generator, plain.D) == (6, "cut", "G", None)  # D only when asked
    assert plain.device == torch.device("cpu") and not plain.G.training
    with pytest.raises(CheckpointError, match="no discriminator"):
        plain.refiner(3)
    with_D = load_translator(ckpt, with_discriminator=True, state=load_checkpoint(ckpt))
    assert with_D.D is not None and not any(p.requires_grad for p in with_D.D.parameters())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert with_D.refiner(2, step_size=0.05)(x).shape == x.shape


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ckpt" / "latest.pt"
    save_checkpoint({"format": 1, "models": {}, "x": torch.ones(3)}, path)
    save_checkpoint({"format": 1, "models": {}, "x": torch.zeros(3)}, path)
    assert os.listdir(path.parent) == ["latest.pt"]
    assert torch.equal(load_checkpoint(path)["x"], torch.zeros(3))


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "latest.pt"
    save_checkpoint({"format": 1, "models": {}, "x": torch.ones(3)}, path)

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="previous one is kept"):
        save_checkpoint({"format": 1, "models": {}, "x": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(3))
    assert os.listdir(tmp_path) == ["latest.pt"]


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "models": {}, "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="only tensors and plain data"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all"])
def test_corrupt_file_gives_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(path)


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.ones(1)}, path)
    with pytest.raises(CheckpointError, match="not a translate checkpoint"):
        load_checkpoint(path)
