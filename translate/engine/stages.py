"""Training stages inside one run. A stage is a TranslationModel (its phases and losses) over a range of steps.

CUT training is a single stage; CoopInit (Zhao, Xie, Li; AAAI 2023) puts a cooperative stage in front,
sharing G, F and D, optionally followed by a D-only warm-up (switch policy ``warmup``).
The stage a step belongs to is a pure function of the step, so a resume lands in the right one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import Tensor

from translate.config import check_coop_fits, coop_steps
from translate.datasets.folder import fixed_images
from translate.models.contract import TranslationModel


@dataclass
class Stage:
    name: str  # recorded in checkpoints and logs
    model: TranslationModel  # translate/models/contract.py
    start: int  # first step of the stage
    end: int  # the stage runs while start <= step < end
    images: dict[str, Tensor] = field(default_factory=dict)  # fixed images for the model's on_stage_start


def build_stages(cfg, networks, total_steps: int, train_files: tuple[Sequence, Sequence] | None = None) -> list[Stage]:
    """The stages of a run; ``networks`` is the CUTModel that owns G, D and F, ``train_files`` the training
    images of domains A and B as the dataset lists them (coop.switch=calibrate fits D on the first ones)."""
    c = cfg.coop
    if not c.enabled:
        return [Stage("cut", networks, 0, total_steps)]
    from translate.models.coop import CalibratedCUT, CoopModel, DWarmup, TaughtCUT  # local: CUT-only runs skip it

    check_coop_fits(c, total_steps)  # again: with train.epochs, the total is known only now
    warmup = c.warmup_steps if c.switch == "warmup" else 0
    steps = coop_steps(c, total_steps)
    coop = CoopModel(networks, langevin_steps=c.langevin_steps, step_size=c.step_size, noise=c.noise,
                     sigma=c.sigma, normalize_step=c.normalize_step, lambda_teach=c.lambda_teach, alpha=c.alpha,
                     init_noise=c.init_noise, clamp=c.clamp)
    stages = [Stage("coop", coop, 0, steps)]
    if warmup:
        stages.append(Stage("warmup", DWarmup(networks), steps, steps + warmup))
    images, cut = {}, networks
    if c.switch == "calibrate":
        if train_files is None:
            raise ValueError("build_stages: coop.switch=calibrate needs train_files, the dataset's A and B files")
        calib_a, calib_b = (fixed_images(files, c.calib_images, cfg.data.crop_size) for files in train_files)
        images, cut = {"a": calib_a, "b": calib_b}, CalibratedCUT.sharing(networks)
    if c.teach_decay_steps > 0:
        cut = TaughtCUT(cut, coop, steps + warmup, c.teach_decay_steps)
    stages.append(Stage("cut", cut, steps + warmup, total_steps, images=images))
    return stages


def stage_at(stages: list[Stage], step: int) -> Stage:
    for stage in stages:
        if stage.start <= step < stage.end:
            return stage
    return stages[-1]
