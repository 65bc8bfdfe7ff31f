"""Langevin revision (models/sampling/langevin.py) and the EBM loss (models/losses/energy.py)."""
import pytest
import torch

from translate.models.losses.energy import ebm_ml_loss
from translate.models.networks import PatchDiscriminator
from translate.models.sampling.langevin import langevin_revise


def _quadratic(center):
    return lambda y: (y - center).flatten(1).pow(2).sum(1)  # (B,)


@pytest.mark.parametrize("normalize,step_size", [(False, 0.5), (True, 0.02)])
def test_langevin_lowers_a_quadratic_energy(normalize, step_size):
    torch.manual_seed(0)
    center = torch.rand(2, 3, 8, 8) - 0.5
    y0 = torch.rand(2, 3, 8, 8) * 2 - 1
    res = langevin_revise(_quadratic(center), y0, steps=20, step_size=step_size, normalize=normalize)
    assert res.diagnostics["energy_after"] < 0.5 * res.diagnostics["energy_before"]
    assert (res.revised - center).abs().mean() < (y0 - center).abs().mean()
    assert res.diagnostics["pixel_change"] == pytest.approx(float((res.revised - y0).abs().mean()))
    assert not res.revised.requires_grad


def test_zero_noise_is_deterministic_and_noise_is_seeded():
    center = torch.zeros(1, 3, 8, 8)
    y0 = torch.rand(1, 3, 8, 8) * 2 - 1
    a = langevin_revise(_quadratic(center), y0, steps=5, step_size=0.05, normalize=True).revised
    b = langevin_revise(_quadratic(center), y0, steps=5, step_size=0.05, normalize=True).revised
    assert torch.equal(a, b)

    def noisy(seed):
        g = torch.Generator().manual_seed(seed)
        return langevin_revise(_quadratic(center), y0, 5, 0.05, noise=1.0, normalize=True, generator=g).revised

    assert torch.equal(noisy(1), noisy(1)) and not torch.equal(noisy(1), noisy(2))


def test_output_is_clamped_and_reference_term_shrinks():
    far = torch.full((1, 3, 4, 4), 5.0)
    res = langevin_revise(_quadratic(far), torch.zeros(1, 3, 4, 4), steps=50, step_size=0.5)
    assert res.revised.max() <= 1.0 and torch.allclose(res.revised, torch.ones_like(res.revised))
    assert res.diagnostics["at_bounds"] == 1.0  # every pixel ended on the clamp
    inside = langevin_revise(_quadratic(torch.zeros(1, 3, 4, 4)), torch.full((1, 3, 4, 4), 0.5), 3, 0.01)
    assert inside.diagnostics["at_bounds"] == 0.0
    zero = lambda y: y.new_zeros(y.shape[0])  # noqa: E731 - only the Gaussian reference acts
    y0 = torch.full((1, 3, 4, 4), 0.8)
    res = langevin_revise(zero, y0, steps=3, step_size=0.002, sigma=0.016)
    assert (res.revised.abs() < y0.abs()).all()
    assert torch.equal(langevin_revise(zero, y0, steps=3, step_size=0.002, sigma=None).revised, y0)


def test_ebm_loss_raises_f_on_real_and_lowers_it_on_revised():
    torch.manual_seed(0)
    D = PatchDiscriminator(ndf=4, n_layers=1)
    # Two distinguishable sets, as real photos and blurry early translations are.
    real = (0.5 + 0.3 * torch.randn(4, 3, 16, 16)).clamp(-1, 1)
    revised = (-0.3 + 0.1 * torch.randn(4, 3, 16, 16)).clamp(-1, 1)

    @torch.no_grad()
    def f(x):
        return D(x).flatten(1).mean(1).mean()

    before_real, before_rev = float(f(real)), float(f(revised))
    ml, reg = ebm_ml_loss(D(real), D(revised), alpha=0.1)
    opt = torch.optim.SGD(D.parameters(), lr=0.05)
    opt.zero_grad()
    (ml + reg).backward()
    opt.step()
    assert float(f(real)) > before_real and float(f(revised)) < before_rev
    ml0, reg0 = ebm_ml_loss(torch.ones(3), torch.zeros(3), alpha=0.5)
    assert float(ml0) == -1.0 and float(reg0) == 0.5


def test_langevin_revises_points_of_any_shape_unclamped():
    """(B, D) points, as the 2-D mixtures of benchmarks/coopinit_toy2d.py; bounds=None leaves them unclamped."""
    center = torch.tensor([[3.0, -2.5]])
    y0 = torch.zeros(4, 2)
    res = langevin_revise(_quadratic(center), y0, steps=200, step_size=0.05, normalize=True, bounds=None)
    assert res.revised.shape == (4, 2)
    assert (res.revised - center).abs().max() < 0.1  # reached the centre, outside [-1, 1]
    clamped = langevin_revise(_quadratic(center), y0, steps=200, step_size=0.05, normalize=True).revised
    assert torch.allclose(clamped, torch.tensor([[1.0, -1.0]]).expand(4, 2))  # the image default clamps
    # 1-D per sample and 3-D per sample work as well; the RMS normalisation is per sample.
    res1 = langevin_revise(lambda y: y.pow(2).sum(1), torch.tensor([[0.5], [-0.5]]), 3, 0.1, normalize=True)
    assert torch.allclose(res1.revised, torch.tensor([[0.2], [-0.2]]))


def test_teach_loss_is_weighted_mse_and_reaches_only_fake():
    from translate.models.losses.energy import teach_loss

    fake = torch.tensor([[0.0, 1.0], [2.0, 3.0]], requires_grad=True)
    revised = torch.tensor([[1.0, 1.0], [2.0, 1.0]])
    loss = teach_loss(fake, revised, 10.0)
    assert float(loss.detach()) == 10.0 * (1 + 0 + 0 + 4) / 4
    loss.backward()
    assert torch.allclose(fake.grad, 10.0 * 2 * (fake.detach() - revised) / 4)
