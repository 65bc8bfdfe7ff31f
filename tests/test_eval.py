"""`translate eval`: outputs on the smoke checkpoint, fail-fast offline errors, and the Inception wiring."""
import json
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from translate.cli import main
from translate.metrics.weights import MissingWeightsError, ensure_weight_file


def test_eval_writes_json_table_and_grid(smoke_run, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--ckpt", str(smoke_run / "ckpt" / "latest.pt"), "demo", "--features", "tiny",
                 "--metrics", "fid,kid,gt,modes", "--out", str(out), "--device", "cpu"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["features"] == "tiny" and "NOT Inception" in result["features_note"]
    assert result["step"] == 6 and result["n_images"] == 6 and result["split"] == "test"
    assert {"fid", "kid", "kid_std", "gt_l1", "gt_psnr", "gt_bg_l1"} <= result.keys()
    table = (out / "metrics.md").read_text()
    assert "FID [tiny features]" in table and "step 6" in table and f"{result['fid']:.2f}" in table
    assert f"| FID [tiny features], inputs untranslated | {result['fid_input']:.2f} |" in table
    assert table in capsys.readouterr().out  # the table is also printed
    with Image.open(out / "pairs.png") as grid:  # 6 pairs of 32 px tiles, 4 pairs (8 tiles) per row
        assert grid.size == (8 * 34 + 2, 2 * 34 + 2)


def test_eval_default_out_and_dataset_from_checkpoint(smoke_run):
    assert main(["eval", "--ckpt", str(smoke_run), "--features", "tiny", "--metrics", "kid",
                 "--max-images", "3", "--grid", "2"]) == 0
    result = json.loads((smoke_run / "eval" / "latest_test_tiny" / "metrics.json").read_text())
    assert result["n_images"] == 3 and result["dataset"] == "demo" and "fid" not in result


def test_eval_bad_metric_is_a_one_line_error(smoke_run, capsys):
    assert main(["eval", "--ckpt", str(smoke_run), "--features", "tiny", "--metrics", "fid,sharpness"]) == 2
    assert "sharpness" in capsys.readouterr().err


def test_eval_offline_inception_fails_fast_without_traceback(smoke_run, data_home, tmp_path):
    env = {**os.environ, "TRANSLATE_DATA": str(data_home), "TRANSLATE_WEIGHTS": str(tmp_path / "weights"),
           "TRANSLATE_OFFLINE": "1"}
    # "Fast" is checked by what runs, not by a clock: the weight file is checked before any image is read.
    code = ("import sys; import translate.datasets.imageio as io; real, reads = io.load_image, []; "
            "io.load_image = lambda *a, **k: (reads.append(a), real(*a, **k))[1]; "
            "from translate.cli import main; rc = main(sys.argv[1:]); print('images read:', len(reads)); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "eval", "--ckpt", str(smoke_run), "demo"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    expected = tmp_path / "weights" / "inception-2015-12-05.pt"
    assert str(expected) in errors[0] and "--features tiny" in errors[0]
    assert "images read: 0" in proc.stdout  # no image is read before the check


def test_unreachable_download_names_file_and_folder(tmp_path, monkeypatch):
    import urllib.request

    from translate.metrics.weights import DOWNLOAD_TIMEOUT_S

    monkeypatch.delenv("TRANSLATE_OFFLINE", raising=False)
    real, calls = urllib.request.urlopen, []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (calls.append(k), real(*a, **k))[1])
    with pytest.raises(MissingWeightsError) as info:  # port 9 (discard) refuses at once on localhost
        ensure_weight_file(tmp_path / "w", "net.pt", "http://127.0.0.1:9/net.pt", "a test net", "use --features tiny")
    # fails fast by construction: one attempt, with the short timeout, no retries
    assert len(calls) == 1 and calls[0]["timeout"] == DOWNLOAD_TIMEOUT_S <= 5
    message = str(info.value)
    assert str(tmp_path / "w" / "net.pt") in message and f"{tmp_path / 'w'}/" in message
    assert "http://127.0.0.1:9/net.pt" in message and not (tmp_path / "w" / "net.pt").exists()


def test_explicit_lpips_without_backbone_fails(smoke_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("TRANSLATE_OFFLINE", "1")
    assert main(["eval", "--ckpt", str(smoke_run), "--features", "tiny", "--metrics", "lpips"]) == 2
    err = capsys.readouterr().err
    assert "alexnet-owt-7be5be79.pth" in err and str(tmp_path / "torch" / "hub" / "checkpoints") in err


class _Layers(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1).repeat(1, 683)[:, :2048]  # (N, 2048)


class _FakeInception(torch.nn.Module):
    """Stands in for the TorchScript Inception file: the same attributes clean-fid calls."""

    def __init__(self):
        super().__init__()
        self.layers = _Layers()

    def forward(self, x, return_features: bool = False):
        return self.layers(x)


def test_inception_path_with_weights_present(tmp_path, monkeypatch, smoke_run):
    from translate.metrics.features import build_extractor

    torch.jit.script(_FakeInception()).save(str(tmp_path / "inception-2015-12-05.pt"))
    monkeypatch.setenv("TRANSLATE_WEIGHTS", str(tmp_path))
    extractor = build_extractor("inception", "cpu")
    assert extractor.name == "inception" and extractor.model.layers is not None
    # Clean mode: [-1, 1] -> 8-bit levels -> 299 px bicubic -> (x - 128) / 128 inside the network.
    feats = extractor(torch.stack([torch.full((3, 20, 20), -1.0), torch.full((3, 20, 20), 1.0)]))
    assert feats.shape == (2, 2048)
    assert torch.allclose(feats[0], torch.tensor(-1.0)) and torch.allclose(feats[1], torch.tensor(127 / 128))
    assert main(["eval", "--ckpt", str(smoke_run), "--metrics", "fid,kid", "--out", str(tmp_path / "e")]) == 0
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["features"] == "inception"
