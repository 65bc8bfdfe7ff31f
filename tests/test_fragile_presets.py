"""A fragile preset (FastCUT) points its user at its CoopInit twin (issue 24, docs/experiments/coopinit.md)."""
import subprocess
import sys

from translate.commands.train import RECOMMENDED_TWINS, fragile_note
from translate.config import load_config


def test_fastcut_recommends_its_coop_twin_and_nothing_else_does():
    note = fragile_note(load_config("fastcut", []))
    assert note is not None and "--config coop_fastcut" in note and "fragile-one-sided-training" in note
    for preset in ("coop_fastcut", "cut", "coop_cut", "demo", "coop_demo"):
        assert fragile_note(load_config(preset, [])) is None, preset
    assert fragile_note(load_config("fastcut", ["coop.enabled=true", "coop.fraction=0.1"])) is None  # CoopInit already on


def test_each_twin_is_its_preset_with_coopinit_in_front():
    for fragile, twin in RECOMMENDED_TWINS.items():
        base, coop = load_config(fragile, []), load_config(twin, [])
        assert coop.coop.enabled and not base.coop.enabled
        assert coop.model == base.model and coop.train == base.train


def test_train_says_so_before_anything_else(tmp_path):
    missing = tmp_path / "no_such_dataset"
    res = subprocess.run([sys.executable, "-m", "translate", "train", str(missing), "--config", "fastcut"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "--config coop_fastcut" in res.stderr and str(missing) in res.stderr
