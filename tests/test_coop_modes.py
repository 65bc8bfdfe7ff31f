"""Mode classification and coverage on the synthetic dataset (translate/metrics/modes.py)."""
import json

import pytest
import torch

from translate.config import SyntheticConfig
from translate.datasets.synthetic import _sample_scene, ensure_synthetic, render_scene, scene_rng
from translate.errors import DataError
from translate.metrics.modes import ModeClassifier, _load_folder, mode_coverage

CFG = SyntheticConfig(size=32, n_train=2, n_test=12, n_modes=3, seed=0)


@pytest.fixture(scope="module")
def root(data_home):
    return ensure_synthetic(CFG, data_home)


def test_held_out_testB_is_classified_by_its_label(root):
    clf = ModeClassifier(root)
    meta = json.loads((root / "labels.json").read_text())
    names = sorted(meta["testB"])
    images = _load_folder(root / "testB", names)
    masks = (_load_folder(root / "testB_mask", names)[:, :1] > 0).float()
    assert clf.classify(images, masks) == [clf.modes[meta["testB"][n]] for n in names]


def test_coverage_of_ground_truth_source_and_a_collapsed_translator(root):
    names = ModeClassifier(root).names
    gt = mode_coverage(_load_folder(root / "testA_gt", names), root)
    counts = torch.bincount(ModeClassifier(root).gt_modes, minlength=3).double() / len(names)
    balanced = float(-(counts * counts.log()).sum() / torch.log(torch.tensor(3.0)))  # the variants' own balance
    assert gt["modes_covered"] == 3 and gt["source_share"] == 0 and gt["mode_entropy"] == pytest.approx(balanced)
    assert gt["mode_coverage"] == 1.0 and gt["mode_accuracy"] == 1.0
    same = mode_coverage(_load_folder(root / "testA", names), root)  # an identity "translator"
    assert same["source_share"] == 1.0 and same["modes_covered"] == 0 and same["mode_accuracy"] == 0.0
    scenes = [_sample_scene(scene_rng(CFG.seed, "A", "test", i), CFG.size, CFG.n_modes) for i in range(len(names))]
    collapsed = torch.stack([torch.from_numpy(render_scene(scene, CFG.size, 1)[0]).permute(2, 0, 1).float() / 127.5 - 1
                             for scene in scenes])  # every animal in mode 1
    out = mode_coverage(collapsed, root)
    assert out["mode_shares"]["red_yellow_checker"] == 1.0 and out["modes_covered"] == 1
    assert out["mode_entropy"] == 0.0
    # Right only where the input's variant calls for mode 1.
    assert out["mode_accuracy"] == pytest.approx(sum(s["variant"] == 1 for s in scenes) / len(scenes))
    assert 0 < out["mode_accuracy"] < 1
    # Per mode: all right for the inputs calling for mode 1, all wrong for the others; the worst is 0.
    assert out["mode_accuracy_by_mode"] == {"zebra_stripes": 0.0, "red_yellow_checker": 1.0, "blue_dots_on_white": 0.0}
    assert out["mode_accuracy_min"] == 0.0
    assert gt["mode_accuracy_by_mode"] == dict.fromkeys(gt["mode_accuracy_by_mode"], 1.0)
    assert gt["mode_accuracy_min"] == 1.0
    assert mode_coverage(torch.nn.functional.interpolate(collapsed, size=48), root)["modes_covered"] == 1


def test_errors_name_the_problem(root, tmp_path):
    with pytest.raises(DataError, match="labels.json"):
        mode_coverage(torch.zeros(1, 3, 32, 32), tmp_path)
    with pytest.raises(DataError, match="12 masks"):
        ModeClassifier(root).classify(torch.zeros(2, 3, 32, 32), torch.zeros(12, 1, 32, 32))
    clf = ModeClassifier(root)
    first = clf.gt_modes.tolist()
    k = next(i for i, m in enumerate(first) if m != first[0])  # the first test image of another variant
    first_k = _load_folder(root / "testA_gt", clf.names[:k + 1])
    assert mode_coverage(first_k, root)["modes_covered"] == 2
