"""SANTA: unpaired translation with shortest-path regularisation (Xie, Xu, Gong, Zhang; CVPR 2023).

A second one-sided translator behind the same model contract as CUT (``model.name: santa``). G encodes an image
to a latent h and decodes it under a domain variable d (models/networks/santa_generator.py): d = 0 reconstructs
domain A, d = 1 translates to B. G's objective, with the paper's code's defaults (Mid-Push/santa):

  λ_GAN·GAN(G(x_A))                       realism of x_A at d = 1, the same D and GAN losses as CUT
  + λ_rec·‖dec(h_A, 0) - x_A‖₁            the path starts at the input
  + λ_idt·‖dec(h_B, 1) - x_B‖₁            B images stay themselves
  + λ_kl·mean(h²)                         latents near the origin; in training h gets N(0, σ²) noise
  + λ_path·mean_l ‖(φ_l(h_A, d₁) - φ_l(h_A, d₂)) / max(d₁ - d₂, 0.1)‖²

The last term is the path length: for d₁, d₂ = c ± δ (c ~ U(0, 1), δ ~ U(0.05, 0.10), clamped to [0, 1]), the
decoder's features φ_l should change little along d, so the translation is the shortest path from x_A to domain B.

With a masked G (model.g_mask) each decode blends its content with the image it encoded by a mask m; the rec and
idt terms compare the content, the blended output, or both (model.santa.l1_on), and λ_mask·mean(m) over the
translations' masks (model.santa.lambda_mask) keeps the mask shut where nothing needs to change; with
model.santa.lambda_mask_edge the mask may change only across the input's edges (models/losses/mask.py); with
model.santa.mask_late_step the price becomes model.santa.lambda_mask_late from that step of the run on.

The model is a CUTModel (D, its phase and every D option are shared) whose shared forward and content terms are
SANTA's: ``nce_losses`` returns the terms above but GAN, so the CoopInit stage (models/coop.py), which teaches G
with ``nce_losses`` as its content terms, runs on SANTA unchanged. F is an empty patch sampler (no parameters),
so checkpoints keep their G, D, F layout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as Fn
from torch import Tensor

from translate.models.cut import CUTModel, StepOutputs
from translate.models.losses.mask import edge_aware_smoothness
from translate.models.networks import PatchSampler
from translate.models.networks.generator import blend_guide, content_and_mask, masked_output
from translate.models.networks.santa_generator import SantaGenerator


class SantaModel(CUTModel):
    """G (SantaGenerator), D and an empty F, with SANTA's G objective; phases D then G (a TranslationModel)."""

    def __init__(self, G: SantaGenerator, D, *, lambda_rec: float = 5.0, lambda_idt: float = 5.0,
                 lambda_kl: float = 0.01, lambda_path: float = 0.01, noise_std: float = 1.0,
                 path_interval: tuple[float, float] = (0.05, 0.10), l1_on: str = "content", lambda_mask: float = 0.0,
                 lambda_mask_edge: float = 0.0, lambda_mask_late: float = 0.0, mask_late_step: int = 0, **cut_kw):
        super().__init__(G, D, PatchSampler([]), nce_layers=[], lambda_nce=0.0, nce_idt=False, **cut_kw)
        self.lambda_rec, self.lambda_idt = lambda_rec, lambda_idt  # L1 weights of reconstruction and identity
        self.lambda_kl, self.lambda_path = lambda_kl, lambda_path  # latent prior and path-length weights
        self.noise_std = noise_std  # σ of the latent noise in training (0 = none)
        self.path_interval = path_interval  # range of the half-gap δ between the two compared d's
        self.lambda_mask = lambda_mask  # with a masked G: weight of the translations' mean mask
        self.lambda_mask_edge = lambda_mask_edge  # with a masked G: weight of the masks' edge-aware smoothness
        # from the run's step mask_late_step on (0: never), the mask's price is lambda_mask_late
        self.lambda_mask_late, self.mask_late_step = lambda_mask_late, mask_late_step
        self.l1_on = l1_on  # with a masked G: rec and idt compare the content (before the blend), the output or both

    def forward(self, batch: dict) -> StepOutputs:
        """One encoder pass over real_a and real_b, one decoder pass for rec_a (d=0), fake_b and idt_b (d=1)."""
        real_a, real_b = batch["a"], batch["b"]
        n = real_a.shape[0]
        skips: dict = {}  # filled only where G has skip connections (model.g_skip)
        mu = self.G.encode_latent(torch.cat([real_a, real_b]), skips)
        latent = mu + self.noise_std * torch.randn_like(mu) if self.training and self.noise_std > 0 else mu
        latent_a, latent_b = latent[:n], latent[n:]
        skips_a = {k: v[:n] for k, v in skips.items()}
        d = torch.cat([torch.zeros(n), torch.ones(2 * n)]).to(real_a.device)
        latents, batched = torch.cat([latent_a, latent_a, latent_b]), _batched(skips, n) if skips else None
        extra = {"mu": mu, "latent_a": latent_a, "skips_a": skips_a}
        if not self.G.mask:
            rec_a, fake_b, idt_b = self.G.decode(latents, d, skips=batched).split(n)
            return StepOutputs(real_a=real_a, real_b=real_b, fake_b=fake_b, idt_b=idt_b,
                               extra={"rec_a": rec_a, **extra})
        sources = torch.cat([real_a, real_a, real_b])
        logits = self.G.decode(latents, d, skips=batched, source=sources, raw=True)
        blended = masked_output(logits, sources, blend_guide(self.G)).split(n)
        # Computed again rather than shared with the blend: sharing changes the gradients' rounding, and the runs of
        # docs/experiments/quality.md's fourth round (the bundled model among them) would no longer repeat exactly.
        # (With model.g_mask_guide_train the guided filter runs twice here too: an option that lost, left as run.)
        content, m = content_and_mask(logits, sources, blend_guide(self.G))
        content = content.split(n)
        # The images the rec and idt terms compare (model.santa.l1_on); fake_b is always the blended translation.
        l1_images = {"content": [content], "output": [blended], "both": [content, blended],
                     "split": [(content[0], None, blended[2])]}[self.l1_on]
        return StepOutputs(real_a=real_a, real_b=real_b, fake_b=blended[1], idt_b=l1_images[-1][2],
                           extra={"rec_a": l1_images[-1][0], "l1_images": l1_images, "mask_b": m[n:2 * n], **extra})

    def mask_price(self) -> float:
        """λ_mask at the run's step (``set_step``): lambda_mask, then lambda_mask_late from mask_late_step on."""
        late = 0 < self.mask_late_step <= self.step
        return self.lambda_mask_late if late else self.lambda_mask

    def path_loss(self, latent_a: Tensor, skips_a: dict | None = None) -> Tensor:
        """Mean over the path features of the squared finite-difference derivative along d."""
        n, device = latent_a.shape[0], latent_a.device
        center = torch.rand(n, device=device)
        lo, hi = self.path_interval
        half_gap = lo + (hi - lo) * torch.rand(n, device=device)
        d1, d2 = (center + half_gap).clamp(0, 1), (center - half_gap).clamp(0, 1)
        skips = {k: torch.cat([v, v]) for k, v in skips_a.items()} if skips_a else None
        # raw: the path features are all that is used, so no image is made (nor blended, for a masked G)
        _, feats = self.G.decode(torch.cat([latent_a, latent_a]), torch.cat([d1, d2]), with_path=True, skips=skips,
                                 raw=True)
        step = torch.maximum(d1 - d2, torch.full_like(d1, 0.1))[:, None, None, None]
        energies = [((f[:n] - f[n:]) / step).square().mean() for f in feats]
        return torch.stack(energies).mean()

    def nce_losses(self, out: StepOutputs) -> dict[str, Tensor]:
        """SANTA's content terms (all of G's loss but GAN); the name is the one the CoopInit stage calls."""
        losses = {}
        images = out.extra.get("l1_images") or [(out.extra["rec_a"], None, out.idt_b)]  # a masked G: l1_on's
        if self.lambda_rec > 0:
            losses["G/rec"] = self.lambda_rec * sum(Fn.l1_loss(rec_a, out.real_a) for rec_a, _, _ in images)
        if self.lambda_idt > 0:
            losses["G/idt"] = self.lambda_idt * sum(Fn.l1_loss(idt_b, out.real_b) for _, _, idt_b in images)
        if self.lambda_kl > 0:
            losses["G/kl"] = self.lambda_kl * out.extra["mu"].square().mean()
        lambda_mask = self.mask_price()
        if lambda_mask > 0 and "mask_b" in out.extra:
            losses["G/mask"] = lambda_mask * out.extra["mask_b"].mean()
        if self.lambda_mask_edge > 0 and "mask_b" in out.extra:
            losses["G/mask_edge"] = self.lambda_mask_edge * edge_aware_smoothness(out.extra["mask_b"], out.real_a)
        if self.lambda_path > 0:
            losses["G/path"] = self.lambda_path * self.path_loss(out.extra["latent_a"], out.extra.get("skips_a"))
        return losses


def _batched(skips: dict, n: int) -> dict:
    """Skip maps of a batch [A (n); B] laid out as the decoder's batch [A; A; B] (rec_a, fake_b, idt_b)."""
    return {k: torch.cat([v[:n], v[:n], v[n:]]) for k, v in skips.items()}


def build_santa_generator(m) -> SantaGenerator:
    return SantaGenerator(ngf=m.ngf, n_blocks=m.n_blocks, antialias=m.antialias, antialias_up=m.antialias_up,
                          init_gain=m.init_gain, style_dim=m.santa.style_dim, n_downsampling=m.n_downsampling,
                          skip=m.g_skip, mask=getattr(m, "g_mask", False), mask_input=m.santa.mask_input,
                          mask_guide=getattr(m, "g_mask_guide", 0),
                          mask_guide_train=getattr(m, "g_mask_guide_train", False))


def build_santa(m, D, d_augment) -> SantaModel:
    """A SantaModel from a ModelConfig, with the D (and D augmentation) build_model made for it."""
    s = m.santa
    return SantaModel(build_santa_generator(m), D, lambda_rec=s.lambda_rec, lambda_idt=s.lambda_idt,
                      lambda_kl=s.lambda_kl, lambda_path=s.lambda_path, noise_std=s.noise_std,
                      path_interval=(s.path_interval_min, s.path_interval_max), l1_on=s.l1_on,
                      lambda_mask=s.lambda_mask, lambda_mask_edge=s.lambda_mask_edge,
                      lambda_mask_late=s.lambda_mask_late, mask_late_step=s.mask_late_step, lambda_gan=m.lambda_gan,
                      gan_mode=m.gan_mode, d_augment=d_augment, lambda_r1=m.lambda_r1, r1_every=m.r1_every)
