"""The CoopInit stage (Zhao, Xie, Li; "CoopInit: Initializing Generative Adversarial Networks via Cooperative
Learning", AAAI 2023): D as an energy-based model of domain B that teaches G by Langevin revision, then CUT.

The cooperative model shares G, F and D with the CUTModel. Its phases:
  E  maximum likelihood of the EBM p(y) ∝ exp(f(y)) on real_b versus the revised translations ỹ;
  G  MCMC teaching, λ_teach·‖G(real_a) - ỹ‖² (per-pixel mean), plus CUT's PatchNCE (+ identity NCE).

Scaling of f. D returns a map of patch scores. The Langevin energy uses their *sum* per image, the spec's
f(y): a pixel only touches the patches that see it, so ∇_y of the sum has the same per-pixel size at any
resolution. The EBM loss and its α regulariser use the per-patch *mean*, so the loss and α = 0.1 mean the
same thing at 32 px and 256 px; for the gradient of the contrastive term this is only a constant factor,
which Adam removes. Logged energies (E/f_real, E/f_revised, E/f_initial) are per-patch means.

At the switch to CUT, D's scores have an arbitrary offset while LSGAN wants real→1, fake→0; the switch
policies (``plain``, ``calibrate``, ``warmup``) are :class:`CalibratedCUT` and :class:`DWarmup` below. Two
variants: with ``model.ebm_head`` the EBM is D's trunk plus its own head (D.ebm_scores), so CUT's GAN head
starts fresh at the switch; with ``coop.teach_decay_steps`` the teaching goes on into CUT training with a
falling weight (:class:`TaughtCUT`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from translate.models.contract import PhaseLosses, StageContext, optional_member
from translate.models.cut import CUTModel, StepOutputs
from translate.models.losses.energy import ebm_ml_loss, teach_loss
from translate.models.sampling.langevin import langevin_revise

log = logging.getLogger(__name__)


Scores = Callable[[Tensor], Tensor]  # images (B, 3, H, W) -> patch scores (B, 1, h, w): D, or D.ebm_scores


def patch_energy(scores: Scores) -> Callable[[Tensor], Tensor]:
    """E(y) = -f(y), f being the sum of the patch scores per image: (B, 3, H, W) -> (B,)."""
    return lambda y: -scores(y).flatten(1).sum(1)


def patch_mean(scores: Scores, y: Tensor) -> Tensor:
    """Per-patch mean of the scores per image, (B,): the scale the EBM loss and the logs use."""
    return scores(y).flatten(1).mean(1)


def build_refiner(D: nn.Module, steps: int, step_size: float, noise: float = 0.0, sigma: float | None = None,
                  normalize: bool = True) -> Callable[[Tensor], Tensor]:
    """Test-time refinement: a callable y -> Langevin-revised y under D's energy (for apply and the web demo)."""
    D.eval().requires_grad_(False)
    energy = patch_energy(D)

    def refine(y: Tensor) -> Tensor:
        result = langevin_revise(energy, y, steps, step_size, noise=noise, sigma=sigma, normalize=normalize)
        log.debug("refined %d image(s): %s", y.shape[0], result.diagnostics)
        return result.revised

    return refine


@dataclass
class CoopOutputs(StepOutputs):
    """CUT's shared tensors plus the revision ỹ of fake_b."""

    revised: Tensor | None = None  # (B, 3, H, W), detached Langevin revision of fake_b


class CoopModel(nn.Module):
    """The cooperative stage on the networks of a CUTModel; phases E (D as the EBM) then G (G and F)."""

    phases = ("E", "G")

    # Defaults equal CoopConfig's (translate/config.py); tests/test_contract.py checks that they agree.
    def __init__(self, cut: CUTModel, *, langevin_steps: int = 15, step_size: float = 0.01, noise: float = 0.0,
                 sigma: float | None = None, normalize_step: bool = True, lambda_teach: float = 10.0,
                 alpha: float = 0.1, init_noise: float = 0.0, clamp: bool = True):
        super().__init__()
        self.cut = cut  # owns G, D, F and the PatchNCE code
        self.langevin_steps = langevin_steps  # T
        self.step_size = step_size  # δ (RMS pixel move per step when normalize_step)
        self.noise = noise  # η (0 = deterministic revision)
        self.sigma = sigma  # Gaussian reference σ; None = no reference term
        self.normalize_step = normalize_step  # unit-RMS gradient steps
        self.lambda_teach = lambda_teach  # weight of the teaching regression
        self.alpha = alpha  # energy-magnitude regulariser
        self.init_noise = init_noise  # std of the noise added to G(real_a) where the revision starts (0 = none)
        self.clamp = clamp  # revisions stay in [-1, 1] (False: unbounded, as CoopNets and CycleCoopNets)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase == "E":
            return list(self.cut.D.parameters())
        if phase == "G":
            return self.cut.phase_parameters("G")
        raise ValueError(f"unknown phase {phase!r}; expected one of {self.phases}")

    def scores(self, y: Tensor) -> Tensor:
        """The EBM's patch scores: D's EBM head when D has one (model.ebm_head), else D itself."""
        return self.cut.D.ebm_scores(y)

    def revise(self, y: Tensor, generator: torch.Generator | None = None, scores: Scores | None = None):
        """Langevin revision of y under the EBM (or under ``scores``); D's parameters get no gradient."""
        D = self.cut.D
        saved = [p.requires_grad for p in D.parameters()]
        D.requires_grad_(False)
        try:
            return langevin_revise(patch_energy(scores or self.scores), y, self.langevin_steps, self.step_size,
                                   noise=self.noise, sigma=self.sigma, normalize=self.normalize_step,
                                   generator=generator, bounds=(-1.0, 1.0) if self.clamp else None)
        finally:
            for p, flag in zip(D.parameters(), saved):
                p.requires_grad_(flag)

    def forward(self, batch: dict) -> CoopOutputs:
        out = self.cut(batch)  # CUT's shared forward: fake_b, idt_b and the NCE keys
        start = out.fake_b
        if self.init_noise > 0:  # a wider start, so the chains can leave G's current mode
            start = (start.detach() + self.init_noise * torch.randn_like(start)).clamp(-1, 1)
        result = self.revise(start)
        with torch.no_grad():
            f_initial = float(patch_mean(self.scores, out.fake_b.detach()).mean())
        n_pixels = out.fake_b[0].numel()
        logs = {"E/f_initial": f_initial, "E/pixel_change": result.diagnostics["pixel_change"],
                "E/at_bounds": result.diagnostics["at_bounds"],  # share of revised pixels clamped at ±1
                # per-pixel energies, so the drop reads the same at any resolution
                "E/energy_drop": (result.diagnostics["energy_before"] - result.diagnostics["energy_after"])
                / n_pixels}
        fields = {k: getattr(out, k) for k in out.__dataclass_fields__}
        return CoopOutputs(**{**fields, "logs": logs}, revised=result.revised)

    def phase_losses(self, phase: str, batch: dict, out: CoopOutputs) -> PhaseLosses:
        if phase == "E":
            f_real = patch_mean(self.scores, out.real_b)
            f_revised = patch_mean(self.scores, out.revised)
            ml, reg = ebm_ml_loss(f_real, f_revised, self.alpha)
            return PhaseLosses({"E/ml": ml, "E/reg": reg},
                               logged={"E/f_real": f_real.mean().detach(), "E/f_revised": f_revised.mean().detach(),
                                       "E/energy_gap": (f_real.mean() - f_revised.mean()).detach()})
        if phase == "G":
            losses = {"G/teach": teach_loss(out.fake_b, out.revised, self.lambda_teach)}
            losses.update(self.cut.nce_losses(out))
            return PhaseLosses(losses)
        raise ValueError(f"unknown phase {phase!r}; expected one of {self.phases}")

    def sample_columns(self, a: Tensor, G: nn.Module) -> list[Tensor]:
        """input | G output | revised output."""
        fake = G(a)
        # Its own noise stream: drawing from the global RNG here would make training depend on sample_every.
        generator = torch.Generator(device=a.device).manual_seed(0)
        return [a, fake, self.revise(fake, generator).revised]

    @torch.no_grad()
    def translate(self, a: Tensor) -> Tensor:
        return self.cut.G(a)


class TaughtCUT(nn.Module):
    """Option ``coop.teach_decay_steps``: CUT training whose G keeps the teaching term for a while after the switch.

    G's loss gains λ_teach·w·‖G(real_a) - ỹ‖², w falling linearly from 1 at the stage's first step to 0 after
    ``decay_steps`` steps; ỹ is revised by the cooperative stage's Langevin settings under D's GAN scores (the
    D being trained now). Wraps the stage's CUT model (CUTModel or CalibratedCUT) and shares its networks.
    """

    phases = ("D", "G")

    def __init__(self, cut_stage: nn.Module, coop: CoopModel, start: int, decay_steps: int):
        super().__init__()
        self.stage_model = cut_stage
        self.coop = coop  # its revise() and λ_teach
        self.start, self.decay_steps = start, decay_steps
        self.step = start

    def set_step(self, step: int) -> None:
        self.step = step
        inner = optional_member(self.stage_model, "set_step")
        if inner is not None:  # the wrapped CUT model: its lazy R1 follows the run's step
            inner(step)

    def weight(self) -> float:
        """w at the current step: 1 at the stage start, 0 from start + decay_steps on."""
        return min(1.0, max(0.0, 1.0 - (self.step - self.start) / self.decay_steps))

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        return self.stage_model.phase_parameters(phase)

    def on_stage_start(self, ctx: StageContext) -> None:
        hook = getattr(self.stage_model, "on_stage_start", None)
        if hook is not None:
            hook(ctx)

    def forward(self, batch: dict) -> StepOutputs:
        out = self.stage_model(batch)
        if self.weight() <= 0:
            return out
        revised = self.coop.revise(out.fake_b, scores=self.coop.cut.D).revised
        fields = {k: getattr(out, k) for k in out.__dataclass_fields__}
        return CoopOutputs(**fields, revised=revised)

    def phase_losses(self, phase: str, batch: dict, out: StepOutputs) -> PhaseLosses:
        losses = self.stage_model.phase_losses(phase, batch, out)
        if phase == "G" and getattr(out, "revised", None) is not None:
            w = self.weight()
            losses.optimise["G/teach"] = teach_loss(out.fake_b, out.revised, w * self.coop.lambda_teach)
            losses.logged["G/teach_weight"] = torch.tensor(w)
        return losses

    @torch.no_grad()
    def translate(self, a: Tensor) -> Tensor:
        return self.stage_model.translate(a)


class DWarmup(nn.Module):
    """Switch policy ``warmup``: a few steps training D alone with CUT's GAN loss, G frozen."""

    phases = ("D",)

    def __init__(self, cut: CUTModel):
        super().__init__()
        self.cut = cut

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase != "D":
            raise ValueError(f"unknown phase {phase!r}; expected D")
        return self.cut.phase_parameters("D")

    def set_step(self, step: int) -> None:
        self.cut.set_step(step)  # CUT's D phase: lazy R1 follows the run's step

    def forward(self, batch: dict) -> StepOutputs:
        with torch.no_grad():
            fake_b = self.cut.G(batch["a"])
        return StepOutputs(real_a=batch["a"], real_b=batch["b"], fake_b=fake_b)

    def phase_losses(self, phase: str, batch: dict, out: StepOutputs) -> PhaseLosses:
        return self.cut.phase_losses(phase, batch, out)

    @torch.no_grad()
    def translate(self, a: Tensor) -> Tensor:
        return self.cut.G(a)


_GAN_TARGETS = {"lsgan": (1.0, 0.0), "hinge": (1.0, -1.0), "vanilla": (2.0, -2.0), "nonsaturating": (2.0, -2.0)}


def affine_calibration(d_real: Tensor, d_fake: Tensor, targets: tuple[float, float]) -> tuple[float, float]:
    """(a, b) minimising Σ(a·x + b - t)² over all patch scores x, t being the real/fake targets.

    It is the least-squares (LSGAN) fit of an affine map of D's output; when the EBM's scores overlap
    a lot between real and fake it shrinks ``a`` instead of blowing the small gap up to 1.
    """
    x = torch.cat([d_real.flatten(), d_fake.flatten()]).double()
    t = torch.cat([torch.full((d_real.numel(),), targets[0]), torch.full((d_fake.numel(),), targets[1])]).double()
    xc, tc = x - x.mean(), t - t.mean()
    a = float((xc * tc).sum() / xc.pow(2).sum().clamp_min(1e-12))
    b = float(t.mean() - a * x.mean())
    return a, b


class CalibratedCUT(CUTModel):
    """Switch policy ``calibrate``: CUT training whose stage start rescales D's last conv to the GAN targets.

    It is the CUTModel itself (same G, D, F and loss settings, shared, not copied) plus ``on_stage_start``;
    the calibration images arrive in the StageContext as ``images["a"]`` and ``images["b"]``.
    """

    @classmethod
    def sharing(cls, cut: CUTModel) -> CalibratedCUT:
        """The calibrated stage on ``cut``'s networks; a CUTModel subclass (e.g. SANTA) keeps its own objective."""
        kind = cls if type(cut) is CUTModel else type(f"Calibrated{type(cut).__name__}", (cls, type(cut)), {})
        model = kind.__new__(kind)
        model.__dict__.update(cut.__dict__)  # the same module registries: one set of networks
        return model

    @torch.no_grad()
    def on_stage_start(self, ctx: StageContext) -> None:
        G, D = self.G, self.D
        real_b, real_a = ctx.images["b"].to(ctx.device), ctx.images["a"].to(ctx.device)
        d_real, d_fake = D(real_b), D(G(real_a))
        a, b = affine_calibration(d_real, d_fake, _GAN_TARGETS[self.gan_mode])
        for last in D.gan_heads:  # not the EBM head, when D has one; one per scale with model.d_scales
            last.weight.mul_(a)
            last.bias.mul_(a).add_(b)
        log.info("switch=calibrate: D's output mapped by %.4g·x + %.4g (real %.4g -> %.4g, fake %.4g -> %.4g)",
                 a, b, float(d_real.mean()), a * float(d_real.mean()) + b, float(d_fake.mean()),
                 a * float(d_fake.mean()) + b)
