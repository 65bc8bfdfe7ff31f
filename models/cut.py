"""CUT and FastCUT: contrastive unpaired translation (Park, Efros, Zhang, Zhu; ECCV 2020).

The model holds the networks (G, D, F) and the loss math; the trainer owns the loop. CUT and FastCUT
are presets in configs/, not code branches.

One deliberate difference from the reference code: the NCE keys for real_a (and real_b) are the
activations of G's own forward pass on those images, detached, instead of a second encoder pass.
The values are identical because the keys are detached in the loss anyway.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from translate.models.augment import build_d_augment
from translate.models.contract import PhaseLosses
from translate.models.losses import gan_loss, multilayer_nce_loss
from translate.models.networks import MultiScaleDiscriminator, PatchDiscriminator, PatchSampler, ResnetGenerator
from translate.models.precision import fp32


@dataclass
class StepOutputs:
    """Tensors shared by the phases of one training step."""

    real_a: Tensor  # (B, 3, H, W)
    real_b: Tensor  # (B, 3, H, W)
    fake_b: Tensor  # G(real_a), possibly computed on a flipped real_a (flip equivariance)
    idt_b: Tensor | None = None  # G(real_b) when identity NCE is on
    feat_k: list[Tensor] = field(default_factory=list)  # detached encoder features of real_a, per NCE layer
    feat_k_idt: list[Tensor] = field(default_factory=list)  # same for real_b
    flipped: bool = False  # whether this step ran G on horizontally flipped inputs
    logs: dict[str, float] = field(default_factory=dict)  # values the trainer only logs (e.g. CoopInit energies)
    extra: dict[str, Tensor] = field(default_factory=dict)  # a model's own tensors (SANTA: rec_a, mu, latent_a)


class CUTModel(nn.Module):
    """G, D and F with the CUT objectives; phases D then G, as in the reference (a TranslationModel)."""

    phases = ("D", "G")

    def __init__(self, G: ResnetGenerator, D: nn.Module, F: PatchSampler, *, nce_layers: list[str],
                 lambda_gan: float = 1.0, lambda_nce: float = 1.0, nce_idt: bool = True, nce_t: float = 0.07,
                 num_patches: int = 256, gan_mode: str = "lsgan", flip_equivariance: bool = False,
                 d_augment: Callable[[Tensor], Tensor] | None = None, nce_negatives: str = "image",
                 lambda_r1: float = 0.0, r1_every: int = 1, nce_hard_neg_beta: float = 0.0):
        super().__init__()
        self.G, self.D, self.F = G, D, F
        self.nce_layers = list(nce_layers)  # encoder roles whose features enter PatchNCE
        self.lambda_gan = lambda_gan  # weight of G's adversarial loss
        self.lambda_nce = lambda_nce  # weight of PatchNCE (0 turns NCE off)
        self.nce_idt = nce_idt  # identity NCE on (real_b, G(real_b))
        self.nce_t = nce_t  # softmax temperature τ
        self.num_patches = num_patches  # patches per layer
        self.gan_mode = gan_mode
        self.flip_equivariance = flip_equivariance  # FastCUT: random flips, undone on the queries
        self.d_augment = d_augment  # DiffAugment on every D input, real and fake (None = off)
        self.nce_negatives = nce_negatives  # PatchNCE negatives from the same image or the whole batch
        self.lambda_r1 = lambda_r1  # γ of the R1 penalty on real images (0 = off)
        self.r1_every = r1_every  # lazy R1: on every k-th step of the run, weighted by k (StyleGAN2)
        self.step = 0  # the run's step, told by the trainer (set_step); decides when lazy R1 is due
        self.nce_hard_neg_beta = nce_hard_neg_beta  # β of PatchNCE's hard-negative weights (0 = off)

    def D_input(self, x: Tensor) -> Tensor:
        """What D sees of an image: the image, or its augmentation (the same policy for real and fake)."""
        return x if self.d_augment is None else self.d_augment(x)

    def phase_parameters(self, phase: str) -> list[nn.Parameter]:
        if phase == "D":
            return list(self.D.parameters())
        if phase == "G":
            return list(self.G.parameters()) + list(self.F.parameters())
        raise ValueError(f"unknown phase {phase!r}; expected one of {self.phases}")

    def _wants_nce(self) -> bool:
        return self.lambda_nce > 0

    def forward(self, batch: dict) -> StepOutputs:
        """The shared forward: one G pass over real_a (and real_b), keeping NCE key features."""
        real_a, real_b = batch["a"], batch["b"]
        use_idt = self.nce_idt and self._wants_nce()
        real = torch.cat([real_a, real_b]) if use_idt else real_a
        flipped = self.flip_equivariance and self.training and random.random() < 0.5
        if flipped:
            real = torch.flip(real, dims=[3])
        layers = self.nce_layers if self._wants_nce() else []
        fake, feats = self.G(real, layers=layers) if layers else (self.G(real), [])
        n = real_a.shape[0]
        if flipped and layers:
            # Keys must come from the unflipped images, as in the reference: one extra encoder pass here.
            with torch.no_grad():
                feats = self.G.encode(torch.flip(real, dims=[3]), layers)
        feats = [f.detach() for f in feats]
        return StepOutputs(
            real_a=real_a, real_b=real_b, fake_b=fake[:n], idt_b=fake[n:] if use_idt else None,
            feat_k=[f[:n] for f in feats], feat_k_idt=[f[n:] for f in feats] if use_idt else [],
            flipped=flipped,
        )

    def nce_loss(self, feat_k: list[Tensor], target: Tensor, flipped: bool,
                 feat_q: list[Tensor] | None = None) -> Tensor:
        """PatchNCE between detached keys of the source and queries from G's encoder on ``target``
        (``feat_q``: those queries when the caller has already encoded ``target``)."""
        if feat_q is None:
            feat_q = self.G.encode(target, self.nce_layers)
        if flipped:
            feat_q = [torch.flip(f, dims=[3]) for f in feat_q]
        with fp32("nce", target.device.type):  # the precision policy (models/precision.py)
            samples_k, patch_ids = self.F([f.float() for f in feat_k], self.num_patches)
            samples_q, _ = self.F([f.float() for f in feat_q], self.num_patches, patch_ids)
            return multilayer_nce_loss(samples_q, [k.detach() for k in samples_k], target.shape[0], self.nce_t,
                                       self.nce_negatives, self.nce_hard_neg_beta)

    def nce_losses(self, out: StepOutputs) -> dict[str, Tensor]:
        """G's content terms: λ_NCE·PatchNCE, halved and joined by identity NCE when that is on (also used
        by the CoopInit stage, models/coop.py)."""
        if not self._wants_nce():
            return {}
        if out.idt_b is None:
            return {"G/nce": self.lambda_nce * self.nce_loss(out.feat_k, out.fake_b, out.flipped)}
        nce, nce_y = self._nce_pair(out)
        return {"G/nce_idt": 0.5 * (self.lambda_nce * nce_y), "G/nce": 0.5 * (self.lambda_nce * nce)}

    def _nce_pair(self, out: StepOutputs) -> tuple[Tensor, Tensor]:
        """PatchNCE of fake_b and of idt_b, as two ``nce_loss`` calls compute them (the same patch draws, in
        the same order), from one encoder pass over both (one call per layer instead of two, which matters on
        CPU at small sizes; every layer is per-image) and one patch gather per layer (F.forward_groups)."""
        n = out.fake_b.shape[0]
        feat_q = self.G.encode(torch.cat([out.fake_b, out.idt_b]), self.nce_layers)
        if out.flipped:
            feat_q = [torch.flip(f, dims=[3]) for f in feat_q]
        with fp32("nce", out.fake_b.device.type):  # the precision policy (models/precision.py)
            samples_k, ids = self.F([f.float() for f in out.feat_k], self.num_patches)
            samples_k_idt, ids_idt = self.F([f.float() for f in out.feat_k_idt], self.num_patches)
            samples_q, samples_q_idt = self.F.forward_groups([f.float() for f in feat_q], self.num_patches,
                                                             [ids, ids_idt])
            return tuple(multilayer_nce_loss(q, [k.detach() for k in keys], n, self.nce_t, self.nce_negatives,
                                             self.nce_hard_neg_beta)
                         for q, keys in ((samples_q, samples_k), (samples_q_idt, samples_k_idt)))

    def _discriminate(self, fake: Tensor, real: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """D's patch-score maps (one per scale) on fake and real images; one batched pass when no augmentation
        draws per-call randomness (D is per-image: instance norm, no batch statistics), two passes otherwise."""
        if self.d_augment is not None or fake.shape != real.shape or real.requires_grad:
            return self.D.maps(self.D_input(fake)), self.D.maps(self.D_input(real))
        maps = self.D.maps(torch.cat([fake, real]))
        n = fake.shape[0]
        return [m[:n] for m in maps], [m[n:] for m in maps]

    def _gan(self, maps: list[Tensor], target_is_real: bool, for_discriminator: bool = True) -> Tensor:
        """The GAN loss averaged over D's scales (one scale: the plain loss)."""
        losses = [gan_loss(m, target_is_real, self.gan_mode, for_discriminator) for m in maps]
        return losses[0] if len(losses) == 1 else sum(losses) / len(losses)

    def set_step(self, step: int) -> None:
        """The run's step, told before each forward. Lazy R1 is due on the steps divisible by r1_every: a pure
        function of the checkpointed step, so a resumed run applies it where an uninterrupted one does."""
        self.step = step

    def _r1_due(self) -> bool:
        """Whether this step's D phase adds the R1 penalty (every r1_every-th step of the run, from step 0)."""
        return self.lambda_r1 > 0 and self.step % self.r1_every == 0

    def r1_penalty(self, real: Tensor, maps: list[Tensor]) -> Tensor:
        """R1 (Mescheder et al., ICML 2018): γ/2·‖∇_x D(x)‖² on real images, D(x) being the image's mean patch
        score (averaged over scales); times r1_every when lazy. ``maps`` were computed from ``real``."""
        score = sum(m.flatten(1).mean(1) for m in maps) / len(maps)  # (B,)
        (grad,) = torch.autograd.grad(score.sum(), real, create_graph=True)
        return 0.5 * self.lambda_r1 * self.r1_every * grad.square().flatten(1).sum(1).mean()

    def phase_losses(self, phase: str, batch: dict, out: StepOutputs) -> PhaseLosses:
        if phase == "D":
            r1 = self._r1_due()
            real = out.real_b.detach().requires_grad_(True) if r1 else out.real_b
            pred_fake, pred_real = self._discriminate(out.fake_b.detach(), real)
            losses = {"D/fake": 0.5 * self._gan(pred_fake, False), "D/real": 0.5 * self._gan(pred_real, True)}
            if r1:
                losses["D/r1"] = self.r1_penalty(real, pred_real)
            return PhaseLosses(losses,
                               # D's mean score on each side, to read against the GAN targets (LSGAN: real 1, fake 0)
                               logged={"D/score_fake": torch.stack([m.detach().mean() for m in pred_fake]).mean(),
                                       "D/score_real": torch.stack([m.detach().mean() for m in pred_real]).mean()})
        if phase == "G":
            losses = {}
            if self.lambda_gan > 0:
                pred = self.D.maps(self.D_input(out.fake_b))
                losses["G/gan"] = self.lambda_gan * self._gan(pred, True, for_discriminator=False)
            losses.update(self.nce_losses(out))
            # log-only: distance from the input
            return PhaseLosses(losses, logged={"G/change": (out.fake_b.detach() - out.real_a).abs().mean()})
        raise ValueError(f"unknown phase {phase!r}; expected one of {self.phases}")

    @torch.no_grad()
    def translate(self, a: Tensor) -> Tensor:
        return self.G(a)


def build_generator(m) -> ResnetGenerator:
    """G from a ModelConfig (or the ``model`` dict of a checkpoint's config): CUT's, or SANTA's (model.name)."""
    if getattr(m, "name", "cut") == "santa":
        from translate.models.santa import build_santa_generator  # local: santa.py imports this module

        return build_santa_generator(m)
    return ResnetGenerator(ngf=m.ngf, n_blocks=m.n_blocks, antialias=m.antialias, antialias_up=m.antialias_up,
                           init_gain=m.init_gain, n_downsampling=getattr(m, "n_downsampling", 2),
                           skip=getattr(m, "g_skip", "none"), mask=getattr(m, "g_mask", False),
                           mask_guide=getattr(m, "g_mask_guide", 0),
                           mask_guide_train=getattr(m, "g_mask_guide_train", False))


def build_discriminator(m) -> PatchDiscriminator | MultiScaleDiscriminator:
    """D from a ModelConfig: the PatchGAN, or with model.d_scales > 1 one PatchGAN per scale."""
    kw = dict(ndf=m.ndf, n_layers=m.n_layers_d, antialias=m.antialias, init_gain=m.init_gain,
              ebm_head=getattr(m, "ebm_head", False), spectral_norm=getattr(m, "d_spectral_norm", False))
    scales = getattr(m, "d_scales", 1)
    return PatchDiscriminator(**kw) if scales == 1 else MultiScaleDiscriminator(scales, **kw)


def build_model(m) -> CUTModel:
    """A CUTModel from a ModelConfig (a SantaModel, its subclass, with model.name=santa); every network is built
    eagerly and initialised."""
    D = build_discriminator(m)
    if m.name == "santa":
        from translate.models.santa import build_santa  # local: santa.py imports this module

        return build_santa(m, D, build_d_augment(getattr(m, "diffaug", "")))
    G = build_generator(m)
    # QS-Attn (model.patch_select=qs) on the trunk's layers, as the paper does on CUT's last two
    qs = [name.startswith("block") for name in m.nce_layers] if m.patch_select == "qs" else None
    F = PatchSampler(G.feature_channels(m.nce_layers), nc=m.netf_nc, init_gain=m.init_gain, qs_layers=qs)
    return CUTModel(G, D, F, nce_layers=m.nce_layers, lambda_gan=m.lambda_gan, lambda_nce=m.lambda_nce,
                    nce_idt=m.nce_idt, nce_t=m.nce_t, num_patches=m.num_patches, gan_mode=m.gan_mode,
                    flip_equivariance=m.flip_equivariance, d_augment=build_d_augment(getattr(m, "diffaug", "")),
                    nce_negatives=m.nce_negatives, lambda_r1=m.lambda_r1, r1_every=m.r1_every,
                    nce_hard_neg_beta=m.nce_hard_neg_beta)
