"""The shipped demo checkpoint (translate/assets/demo.pt): loads safely, is small, is the named preset, and
still scores what it scored when made (floors in translate/assets/demo.json, written by
benchmarks/make_demo_checkpoint.py).

Skipped where the file is absent (a source checkout made before it was added), except with
TRANSLATE_REQUIRE_DEMO_CKPT=1 (CI), where its absence is a failure.
"""
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import torch

from translate.runfolder.bundled import MAX_BYTES, bundled_checkpoint, bundled_scores

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def bundled():
    path, scores = bundled_checkpoint(), bundled_scores()
    if not path.is_file() or not scores.is_file():
        if os.environ.get("TRANSLATE_REQUIRE_DEMO_CKPT") == "1":
            pytest.fail(f"{path} or {scores} is missing but TRANSLATE_REQUIRE_DEMO_CKPT=1")
        pytest.skip(f"no bundled demo checkpoint at {path} (benchmarks/make_demo_checkpoint.py makes it)")
    return path, json.loads(scores.read_text())


def test_loads_with_weights_only_and_is_small(bundled):
    from translate.runfolder.translator import load_translator

    path, record = bundled
    assert path.stat().st_size <= MAX_BYTES
    assert hashlib.sha256(path.read_bytes()).hexdigest() == record["sha256"]  # demo.json belongs to this file
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert set(state["models"]) <= {"G", "D"} and "G" in state["models"]
    assert "optim" not in state and "rng" not in state  # inference only
    t = load_translator(path, with_discriminator=True)
    G, D = t.G, t.D
    assert (D is not None) == ("D" in state["models"])
    y = G(torch.zeros(1, 3, 64, 64))
    assert y.shape == (1, 3, 64, 64) and torch.isfinite(y).all()


def test_config_is_the_named_preset_and_the_command_rebuilds_it(bundled):
    from translate.config import config_to_dict, load_config, resolve_config_path
    from translate.runfolder.translator import load_translator

    path, record = bundled
    cfg = load_translator(path).cfg
    bundle = torch.load(path, map_location="cpu", weights_only=True)["bundle"]
    assert bundle["command"] == record["bundle"]["command"]
    assert cfg.preset == bundle["preset"] and resolve_config_path(cfg.preset).is_file()
    assert cfg.dataset == "demo" and cfg.train.seed == bundle["seed"]
    rebuilt = config_to_dict(load_config(bundle["preset"], ["dataset=demo", *bundle["overrides"]]))
    ours = config_to_dict(cfg)
    for d in (rebuilt, ours):
        d["data"].update(root="", data_root="")
    assert rebuilt == ours
    shown = re.search(rf"^\s*{re.escape(bundle['command'])}(\s|$)", README.read_text(), re.MULTILINE)
    assert shown, f"the README must show the command that reproduces the model: {bundle['command']}"


def test_still_meets_its_floors_on_the_demo_test_split(bundled, data_home):
    from translate.metrics.demo_floors import below_floors, score_checkpoint

    path, record = bundled
    scored = score_checkpoint(path)
    assert scored["n_images"] == record["scored"]["n_images"]
    assert below_floors(scored, record["floors"]) == []
