"""FID/KID math against closed forms, the offline feature extractor, and the evaluate_translator API."""
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg

from translate.metrics import evaluate_translator, fid_from_features, kid_from_features
from translate.metrics.fid import frechet_distance


def test_fid_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(200, 8))
    assert abs(fid_from_features(x, x)) < 1e-8


def test_fid_shifted_gaussian_equals_squared_shift():
    x = np.random.default_rng(1).normal(size=(500, 6))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    # Same covariance, means apart by `shift`: the trace terms cancel exactly.
    assert fid_from_features(x, x + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_distance_closed_forms():
    # Diagonal covariances: sum (sqrt(s1) - sqrt(s2))^2 = (1-2)^2 + (2-3)^2.
    assert frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.zeros(2), np.diag([4.0, 9.0])) == pytest.approx(2.0)
    # General (non-commuting) covariances against scipy's sqrtm.
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T, b @ b.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    expected = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("n1, n2, d", [(10, 14, 40), (60, 50, 8), (30, 30, 30)])
def test_fid_sample_route_matches_covariance_route(n1, n2, d):
    from translate.metrics.fid import feature_stats

    rng = np.random.default_rng(n1)
    x, y = rng.normal(size=(n1, d)), rng.normal(size=(n2, d)) * 1.5 + 0.3
    assert fid_from_features(x, y) == pytest.approx(frechet_distance(*feature_stats(x), *feature_stats(y)), rel=1e-6)


def test_fid_rank_deficient_is_finite_and_nonnegative():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(10, 50)), rng.normal(size=(12, 50)) + 1.0  # fewer samples than dimensions
    value = fid_from_features(x, y)
    assert np.isfinite(value) and value > 0


def test_kid_closed_form_point_masses():
    # X all zeros, Y all c: k(0,0) = k(0,c) = 1 and k(c,c) = (|c|^2/d + 1)^3, so MMD^2 = (|c|^2/d + 1)^3 - 1.
    x, y = np.zeros((20, 2)), np.ones((20, 2))
    mean, std = kid_from_features(x, y, num_subsets=5)
    assert mean == pytest.approx(7.0) and std == pytest.approx(0.0, abs=1e-9)


def test_kid_identical_near_zero_and_grows_with_shift():
    x = np.random.default_rng(4).normal(size=(300, 4))
    same, _ = kid_from_features(x, x, num_subsets=20, max_subset_size=300)
    near, _ = kid_from_features(x, x + 0.5, num_subsets=20, max_subset_size=300)
    far, _ = kid_from_features(x, x + 2.0, num_subsets=20, max_subset_size=300)
    assert abs(same) < 0.1 * near and near < far
    assert kid_from_features(x, x + 1, seed=7) == kid_from_features(x, x + 1, seed=7)  # reproducible


def test_tiny_features_separate_the_demo_domains(data_home):
    from translate.config import SyntheticConfig
    from translate.datasets.synthetic import ensure_synthetic
    from translate.metrics.evaluate import load_images
    from translate.metrics.tiny import TinyFeatures

    root = ensure_synthetic(SyntheticConfig(size=32, n_train=1, n_test=24, n_modes=3))
    names = sorted(p.name for p in (root / "testA").iterdir())
    feats = TinyFeatures()
    fa, fb, fgt = (feats(load_images([root / d / n for n in names], 32)).double().numpy()
                   for d in ("testA", "testB", "testA_gt"))
    assert fa.shape == fb.shape == (24, 6 + 2 * sum(feats.widths))
    # The ideal translation (ground truth) is much closer to domain B than the untranslated input (0.6x on this
    # set; A's coats hint at B's colours since generator version 2, so the gap is smaller than it was).
    assert fid_from_features(fgt, fb) < 0.7 * fid_from_features(fa, fb)
    assert np.allclose(TinyFeatures()(torch.zeros(1, 3, 32, 32)), feats(torch.zeros(1, 3, 32, 32)))  # fixed weights


class MeanColour:
    """An injected extractor: the mean colour of each image."""

    name = "mean_colour"

    def __init__(self):
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        return images.mean(dim=(2, 3))


class Constant(torch.nn.Module):
    multiple = 4

    def forward(self, x):
        return torch.zeros_like(x)


def _smoke_root(smoke_run):
    from translate.runfolder.translator import load_translator
    from translate.datasets.sources import resolve_source

    t = load_translator(smoke_run / "ckpt" / "latest.pt")
    G, cfg = t.G, t.cfg
    return G, resolve_source(cfg).data.root


def test_evaluate_translator_with_injected_extractor(smoke_run):
    G, root = _smoke_root(smoke_run)
    extractor = MeanColour()
    out = evaluate_translator(G, root, features=extractor, max_images=4, batch_size=2)
    assert out["features"] == "mean_colour" and out["n_images"] == 4
    # 6 reference images, 4 fakes and the 4 untranslated inputs (for scale), in batches of 2
    assert extractor.calls == 3 + 2 + 2
    assert {"fid", "kid", "kid_std", "gt_l1", "gt_psnr", "gt_bg_l1", "fid_input", "kid_input"} <= out.keys()
    assert all(np.isfinite(out[k]) for k in ("fid", "kid", "gt_l1", "gt_psnr"))


def test_ground_truth_errors_reward_preserved_background(smoke_run):
    _, root = _smoke_root(smoke_run)
    identity = torch.nn.Identity()
    kept = evaluate_translator(identity, root, metrics=["gt"])
    wiped = evaluate_translator(Constant(), root, metrics=["gt"])
    assert "fid" not in kept and "features" not in kept  # no extractor built when no FID/KID is asked
    assert kept["gt_bg_l1"] < 0.02 < wiped["gt_bg_l1"]  # the input's background is the ground truth's
    assert kept["gt_psnr"] > wiped["gt_psnr"]


def test_reference_features_are_cached(smoke_run, data_home):
    G, root = _smoke_root(smoke_run)
    first = evaluate_translator(G, root, features="tiny")
    cached = list((data_home / "stats").glob(f"tiny-*-{Path(root).name}-testB-*.npy"))  # this dataset's (others share stats/)
    assert len(cached) == 1
    np.save(cached[0], np.load(cached[0]) + 1.0)  # a tampered cache changes the figure: it is really read
    assert evaluate_translator(G, root, features="tiny")["fid"] != pytest.approx(first["fid"])
    cached[0].unlink()


def test_mode_figures_come_from_the_modes_module(smoke_run, monkeypatch):
    """evaluate_translator calls translate.metrics.modes.mode_coverage on the translations, where labels exist."""
    import sys
    import types

    calls = []

    def mode_coverage(images, root, split="test"):
        calls.append((tuple(images.shape), str(root), split))
        return {"mode_coverage": 2 / 3, "mode_entropy": 0.5, "source_share": 0.25, "mode_shares": {"a": 0.75}}

    monkeypatch.setitem(sys.modules, "translate.metrics.modes", types.SimpleNamespace(mode_coverage=mode_coverage))
    G, root = _smoke_root(smoke_run)
    out = evaluate_translator(G, root, metrics=["modes"], max_images=5)
    assert calls == [((5, 3, 32, 32), str(root), "test")]
    assert out["mode_coverage"] == pytest.approx(2 / 3) and out["source_share"] == 0.25
    assert out["modes"]["mode_shares"] == {"a": 0.75}
    assert "mode_coverage" not in evaluate_translator(G, root, metrics=["gt"])  # only when asked for


def test_cli_names_match_the_extractor_registry():
    from translate.metrics.features import EXTRACTORS
    from translate.config import Features, choices

    EXTRACTOR_NAMES = choices(Features)  # what --features and eval.features accept
    assert sorted(EXTRACTORS) == sorted(EXTRACTOR_NAMES)
