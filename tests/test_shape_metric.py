"""The shape figure (translate/metrics/shape.py): IoU of a translation's silhouette with the input's mask."""
import numpy as np
import pytest
import torch

from translate.config import SyntheticConfig
from translate.datasets.synthetic import ensure_synthetic, render_a_background, render_a_pair
from translate.metrics.evaluate import Evaluator
from translate.metrics.shape import shape_iou, silhouette

CFG = SyntheticConfig(size=32, n_train=2, n_test=8, n_modes=3, seed=0)


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr).permute(2, 0, 1).float() / 127.5 - 1  # (3, H, W) in [-1, 1]


def test_background_is_the_scene_without_its_animals():
    for i in range(4):
        img, gt, mask, _ = render_a_pair(CFG, "test", i)
        bg = render_a_background(CFG, "test", i)
        outside = mask == 0
        # Outside the (half-alpha) mask only the animals' anti-aliased rims may differ.
        assert np.mean(np.abs(img.astype(int) - bg.astype(int))[outside] <= 1) > 0.95
        assert np.abs(img.astype(int) - bg.astype(int))[mask > 0].mean() > 20  # the animal is gone


def test_iou_of_hand_made_silhouettes():
    bg = torch.zeros(2, 3, 8, 8)
    mask = -torch.ones(2, 1, 8, 8)
    mask[:, :, 2:6, 2:6] = 1  # a 4x4 object
    img = bg.clone()
    img[0, :, 2:6, 2:6] = 0.8  # exactly the object
    img[1, :, 2:6, 2:4] = 0.8  # half of it lost ("no legs")
    img[1, 0, 0, 0] = -0.9  # one blotch in the background
    assert silhouette(img, bg).sum() == 16 + 8 + 1
    assert shape_iou(img, bg, mask).tolist() == pytest.approx([1.0, 8 / 17])
    assert shape_iou(bg, bg, -torch.ones(2, 1, 8, 8)).tolist() == [1.0, 1.0]  # nothing, correctly


def test_evaluator_reports_shape_kept_by_input_and_ground_truth(data_home):
    root = ensure_synthetic(CFG, data_home)
    ev = Evaluator(root, "test", metrics=("gt",))
    gt = ev.score(ev.gt)
    assert gt["shape_iou"] == gt["shape_iou_gt"] > 0.7
    assert ev.score(ev.real_a)["shape_iou"] > 0.7  # an identity translator keeps the shape (rims count at 32 px)
    assert ev.score(ev.background)["shape_iou"] == 0.0  # animals erased into the grass
    blotchy = ev.gt + 0.6 * torch.sign(torch.randn(ev.gt.shape, generator=torch.Generator().manual_seed(0)))
    assert ev.score(blotchy.clamp(-1, 1))["shape_iou"] < 0.5
