"""Tests for the PatchNCE and GAN losses (translate.models.losses)."""
from __future__ import annotations

import math

import pytest
import torch

from translate.models.losses import gan_loss, multilayer_nce_loss, patchnce_loss


def _nce_row(logits: list[float], tau: float) -> float:
    """Cross-entropy with target 0 for one row of raw logits."""
    scaled = [v / tau for v in logits]
    return -scaled[0] + math.log(sum(math.exp(v) for v in scaled))


def test_patchnce_hand_computed() -> None:
    tau = 0.5
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # row 0: pos q0.k0 = 0.6; negatives [masked diag, q0.k1 = 0]
    # row 1: pos q1.k1 = 1.0; negatives [q1.k0 = 0.8, masked diag]
    expected = [_nce_row([0.6, -10.0, 0.0], tau), _nce_row([1.0, 0.8, -10.0], tau)]
    loss = patchnce_loss(q, k, batch_size=1, tau=tau)
    assert loss.shape == (2,)
    assert torch.allclose(loss, torch.tensor(expected), atol=1e-5)


def test_patchnce_negatives_stay_within_image() -> None:
    torch.manual_seed(0)
    b, p, d = 2, 5, 8
    q = torch.nn.functional.normalize(torch.randn(b * p, d), dim=1)
    k = torch.nn.functional.normalize(torch.randn(b * p, d), dim=1)
    base = patchnce_loss(q, k, batch_size=b)
    k2 = k.clone()
    k2[p:] = torch.nn.functional.normalize(torch.randn(p, d), dim=1)  # image 2's keys only
    changed = patchnce_loss(q, k2, batch_size=b)
    assert torch.equal(base[:p], changed[:p])
    assert not torch.allclose(base[p:], changed[p:])


def test_patchnce_batch_negatives_hand_computed_and_see_other_images() -> None:
    tau = 0.5
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    k = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # Two images of one patch each: with image negatives a query has none but its masked self; with batch
    # negatives it also sees the other image's key.
    alone = [_nce_row([0.6, -10.0], tau), _nce_row([1.0, -10.0], tau)]
    across = [_nce_row([0.6, -10.0, 0.0], tau), _nce_row([1.0, 0.8, -10.0], tau)]
    assert torch.allclose(patchnce_loss(q, k, batch_size=2, tau=tau), torch.tensor(alone), atol=1e-5)
    assert torch.allclose(patchnce_loss(q, k, batch_size=2, tau=tau, negatives="batch"), torch.tensor(across),
                          atol=1e-5)
    # At batch 1 the two choices are the same loss.
    assert torch.allclose(patchnce_loss(q, k, 1, tau), patchnce_loss(q, k, 1, tau, negatives="batch"))
    with pytest.raises(ValueError, match="negatives"):
        patchnce_loss(q, k, 1, tau, negatives="dataset")


def test_patchnce_keys_get_no_gradient() -> None:
    q = torch.randn(6, 4, requires_grad=True)
    k = torch.randn(6, 4, requires_grad=True)
    patchnce_loss(q, k, batch_size=2).mean().backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None


def test_patchnce_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        patchnce_loss(torch.randn(5, 4), torch.randn(5, 4), batch_size=2)
    with pytest.raises(ValueError):
        patchnce_loss(torch.randn(4, 4), torch.randn(4, 3), batch_size=1)


def test_multilayer_nce_is_mean_over_layers() -> None:
    torch.manual_seed(0)
    qs = [torch.randn(8, 4), torch.randn(6, 3)]
    ks = [torch.randn(8, 4), torch.randn(6, 3)]
    per_layer = [patchnce_loss(q, k, 2, 0.07).mean() for q, k in zip(qs, ks)]
    total = multilayer_nce_loss(qs, ks, batch_size=2, tau=0.07)
    assert total.dim() == 0
    assert torch.allclose(total, (per_layer[0] + per_layer[1]) / 2)


def test_gan_lsgan() -> None:
    zeros, ones = torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3)
    assert gan_loss(zeros, True, "lsgan").item() == pytest.approx(1.0)
    assert gan_loss(zeros, False, "lsgan").item() == pytest.approx(0.0)
    assert gan_loss(ones * 0.5, False, "lsgan").item() == pytest.approx(0.25)


def test_gan_vanilla_and_nonsaturating() -> None:
    zeros = torch.zeros(4, 1, 2, 2)
    for mode in ("vanilla", "nonsaturating"):
        assert gan_loss(zeros, True, mode).item() == pytest.approx(math.log(2))
        assert gan_loss(zeros, False, mode).item() == pytest.approx(math.log(2))
    x = torch.full((3,), 2.0)
    assert gan_loss(x, True, "nonsaturating").item() == pytest.approx(math.log1p(math.exp(-2.0)))
    assert gan_loss(x, False, "vanilla").item() == pytest.approx(math.log1p(math.exp(2.0)))


def test_gan_hinge() -> None:
    pred = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    assert gan_loss(pred, True, "hinge").item() == pytest.approx((3.0 + 1.0 + 0.5 + 0.0) / 4)
    assert gan_loss(pred, False, "hinge").item() == pytest.approx((0.0 + 1.0 + 1.5 + 4.0) / 4)
    assert gan_loss(pred, True, "hinge", for_discriminator=False).item() == pytest.approx(-1.5 / 4)
    with pytest.raises(ValueError):
        gan_loss(pred, False, "hinge", for_discriminator=False)


def test_gan_unknown_mode_raises() -> None:
    with pytest.raises(ValueError, match="wgan"):
        gan_loss(torch.zeros(1), True, "wgan")


@pytest.mark.parametrize("batch, flipped", [(1, False), (2, False), (1, True)])
def test_paired_nce_is_two_single_passes_bit_for_bit(batch, flipped) -> None:
    """CUTModel._nce_pair (one encoder pass over fake_b and idt_b, one patch gather per layer for both: issue 27)
    gives exactly the losses and gradients of nce_loss on each, drawing the same patches in the same order."""
    from translate.config import load_config
    from translate.models.cut import build_model

    torch.manual_seed(0)
    model = build_model(load_config("smoke").model)
    batch_in = {"a": torch.rand(batch, 3, 32, 32) * 2 - 1, "b": torch.rand(batch, 3, 32, 32) * 2 - 1}
    out = model(batch_in)
    out.flipped = flipped  # the queries are flipped back as under flip equivariance (the keys are what they are)

    def losses_and_grads(pair: bool):
        torch.manual_seed(1)
        model.zero_grad(set_to_none=True)
        if pair:
            nce, nce_y = model._nce_pair(out)
        else:
            n = out.fake_b.shape[0]
            feats = model.G.encode(torch.cat([out.fake_b, out.idt_b]), model.nce_layers)
            nce = model.nce_loss(out.feat_k, out.fake_b, flipped, [f[:n] for f in feats])
            nce_y = model.nce_loss(out.feat_k_idt, out.idt_b, flipped, [f[n:] for f in feats])
        (0.5 * nce + 0.5 * nce_y).backward(retain_graph=True)
        return [nce, nce_y], {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}

    (paired, grads_paired), (single, grads_single) = losses_and_grads(True), losses_and_grads(False)
    assert all(torch.equal(a, b) for a, b in zip(paired, single))
    assert grads_paired.keys() == grads_single.keys() and any(k.startswith("F.") for k in grads_paired)
    assert all(torch.equal(grads_paired[k], grads_single[k]) for k in grads_single)
