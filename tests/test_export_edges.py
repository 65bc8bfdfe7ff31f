"""Export's rough edges (issue 26): a missing optional package is one line naming the extra, anywhere; export
takes --ckpt like apply and eval, and 'demo'; the positional form keeps working."""
import sys

import pytest

from translate.cli import main
from translate.runfolder.bundled import bundled_checkpoint

EXTRA = 'pip install -e ".[onnx]"'


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def without(monkeypatch):
    """Make ``import NAME`` fail as if the package were not installed (None in sys.modules)."""
    def hide(*names):
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)
    return hide


def test_export_without_onnx_names_the_extra(smoke_run, tmp_path, capsys, without):
    without("onnx")
    out = tmp_path / "g.onnx"
    assert main(["export", "--ckpt", str(smoke_run), "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert EXTRA in line and "onnx package" in line
    assert not out.exists()


def test_apply_onnxruntime_without_the_extra_names_it(smoke_run, tmp_path, capsys, without):
    from PIL import Image

    without("onnx", "onnxruntime")
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    assert main(["apply", "--ckpt", str(smoke_run), str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
                 "--backend", "onnxruntime", "--device", "cpu"]) == 2
    assert EXTRA in _one_error_line(capsys)


def test_augment_without_albumentations_names_the_extra(without):
    from translate.datasets.transforms import Albumentations
    from translate.errors import ConfigError

    without("albumentations")
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[augment\]"'):
        Albumentations({"__class_fullname__": "HorizontalFlip", "p": 0.5})


@pytest.mark.parametrize("form", ["option", "positional", "both-same"])
def test_export_takes_ckpt_as_option_or_positional(smoke_run, tmp_path, form):
    pytest.importorskip("onnx")
    ckpt, out = str(smoke_run / "ckpt" / "latest.pt"), tmp_path / "g.onnx"
    args = {"option": ["--ckpt", ckpt], "positional": [ckpt], "both-same": [ckpt, "--ckpt", ckpt]}[form]
    assert main(["export", *args, "--out", str(out)]) == 0
    assert out.stat().st_size > 1000


def test_export_refuses_two_different_checkpoints_and_none(smoke_run, tmp_path, capsys):
    assert main(["export", str(smoke_run), "--ckpt", str(tmp_path / "other.pt")]) == 2
    assert "two checkpoints" in _one_error_line(capsys)
    assert main(["export"]) == 2
    assert "--ckpt" in _one_error_line(capsys)


def test_export_demo_writes_demo_onnx_here(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    if not bundled_checkpoint().is_file():
        pytest.skip("no bundled demo checkpoint in this checkout")
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in bundled_checkpoint().parent.iterdir())
    assert main(["export", "--ckpt", "demo"]) == 0
    assert (tmp_path / "demo.onnx").stat().st_size > 1000
    assert sorted(p.name for p in bundled_checkpoint().parent.iterdir()) == before  # nothing written into the package
