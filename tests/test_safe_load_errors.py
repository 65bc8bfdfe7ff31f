"""A checkpoint holding code or objects is refused with our own words, not PyTorch's weights_only advice."""
import os

import pytest
import torch
from PIL import Image

from translate.runfolder.schema import load_checkpoint
from translate.cli import main
from translate.errors import CheckpointError


class RunsAShell:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class PlainObject:
    pass


@pytest.mark.parametrize("payload, named", [(RunsAShell(), "system"), (PlainObject(), "PlainObject")])
def test_refused_checkpoint_says_it_holds_code_or_objects(tmp_path, payload, named):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "models": {}, "payload": payload}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    text = str(e.value)
    assert "\n" not in text and "weights_only" not in text and "PyTorch 2.6" not in text
    assert text.startswith(f"refusing checkpoint '{path}': it holds code or Python objects") and named in text


def test_cli_first_line_is_the_refusal(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "models": {}, "payload": RunsAShell()}, path)
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    assert main(["apply", "--ckpt", str(path), str(tmp_path / "a.png"), "--out", str(tmp_path / "out")]) == 2
    first = capsys.readouterr().err.strip().splitlines()[0]
    assert first.startswith("error: refusing checkpoint") and "weights_only" not in first


def test_damaged_file_is_described_as_unreadable(tmp_path):
    from translate.safe_load_errors import describe_load_error

    text = describe_load_error(tmp_path / "x.pt", RuntimeError("PytorchStreamReader failed\nmore detail"))
    assert text.startswith("cannot read checkpoint") and "PytorchStreamReader failed" in text and "\n" not in text
