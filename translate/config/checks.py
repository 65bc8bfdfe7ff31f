"""The checks of a config beyond its types: bounds, signs, combinations of fields, and the run's length.

:func:`validate` runs on every config built (translate/config/load.py), so a command refuses a bad config
before it loads torch, reads data or writes anything. The checks that need the data (a length given in epochs
becomes steps only once domain A is counted) are functions here too, called again by the trainer.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from translate.config.schema import Config, CoopConfig, ModelConfig, SantaConfig
from translate.errors import ConfigError

DIFFAUG_OPS = ("color", "translation", "cutout")  # model.diffaug: a comma-separated subset (models/augment.py)


def parse_diffaug(policy: str) -> tuple[str, ...]:
    """model.diffaug as its ops, e.g. "color, cutout" -> ("color", "cutout"); the one check of the policy."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [op for op in ops if op not in DIFFAUG_OPS]
    if unknown:
        raise ConfigError(f"model.diffaug: unknown augmentation {', '.join(map(repr, unknown))} "
                          f"(expected a comma-separated subset of {', '.join(DIFFAUG_OPS)}, or '' for none)")
    return ops


def _get(cfg: Config, dotted: str) -> Any:
    node: Any = cfg
    for k in dotted.split("."):
        node = getattr(node, k)
    return node


# Upper bounds on sizes that decide how much memory is allocated. A checkpoint is untrusted data and its
# config rebuilds the networks (apply, eval, the demo), so ``model.ngf=65536`` (hundreds of GB) must be
# refused before anything is built. Each bound is far above any published setting (CUT: ngf 64, 9 blocks).
SIZE_BOUNDS = {
    "model.ngf": 1024, "model.ndf": 1024, "model.n_blocks": 64, "model.n_layers_d": 8,
    "model.num_patches": 16384, "model.netf_nc": 8192, "model.d_scales": 4, "model.santa.style_dim": 1024,
    "model.g_mask_guide": 256,
    "data.load_size": 8192, "data.crop_size": 8192, "data.batch_size": 4096,
    "data.synthetic.size": 1024, "data.synthetic.n_train": 100_000, "data.synthetic.n_test": 100_000,
    "data.synthetic.n_modes": 64, "train.n_samples": 256, "coop.langevin_steps": 10_000,
}


# The model options SANTA (model.name=santa, models/santa.py) has no use for: PatchNCE's settings. Away from
# their defaults they would silently do nothing, so validate refuses them. F's sizes (nce_layers, num_patches,
# netf_nc) are left out: size presets (demo, smoke) set them for CUT, and under SANTA they build nothing.
SANTA_IGNORES = ("lambda_nce", "nce_idt", "nce_t", "flip_equivariance", "nce_negatives", "patch_select",
                 "nce_hard_neg_beta")


def _as_set(value: Any) -> str:
    """A value as ``--set`` reads it back (YAML): true/false for booleans."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _away_from_default(section: Any, default: Any, names) -> list[str]:
    return [n for n in names if getattr(section, n) != getattr(default, n)]


def _check_one_models_options(cfg: Config) -> None:
    """Options one model would silently ignore are refused: CUT's (SANTA_IGNORES) under SANTA, and the santa
    block away from its defaults under CUT."""
    m = cfg.model
    if m.name == "santa":
        default = ModelConfig()
        unused = _away_from_default(m, default, SANTA_IGNORES)
        if unused:
            given = ", ".join(f"model.{n}={_as_set(getattr(m, n))}" for n in unused)
            fixes = " ".join(f"--set model.{n}={_as_set(getattr(default, n))}" for n in unused)
            raise ConfigError(f"{given}: no effect with model.name=santa (SANTA has no PatchNCE and its own "
                              f"generator); set {'it' if len(unused) == 1 else 'them'} back ({fixes}) or use "
                              "model.name=cut")
        for name in ("l1_on", "lambda_mask", "lambda_mask_edge", "mask_input", "mask_late_step", "lambda_mask_late"):
            if getattr(m.santa, name) != getattr(SantaConfig, name) and not m.g_mask:
                raise ConfigError(f"model.santa.{name}={_as_set(getattr(m.santa, name))}: no effect without a "
                                  f"masked G; add --set model.g_mask=true, or leave model.santa.{name} at "
                                  f"{_as_set(getattr(SantaConfig, name))}")
        return
    changed = _away_from_default(m.santa, SantaConfig(), [f.name for f in fields(SantaConfig)])
    if changed:
        given = ", ".join(f"model.santa.{n}={_as_set(getattr(m.santa, n))}" for n in changed)
        raise ConfigError(f"{given}: no effect with model.name={m.name} (the santa block is SANTA's loss); "
                          f"add --set model.name=santa, or leave model.santa at its defaults")


def validate(cfg: Config) -> None:
    for dotted, bound in SIZE_BOUNDS.items():
        if _get(cfg, dotted) > bound:
            raise ConfigError(f"{dotted}={_get(cfg, dotted)} is beyond this version's bound of {bound} "
                              "(refused before anything is allocated)")
    positive = ["data.load_size", "data.crop_size", "data.batch_size", "model.ngf", "model.ndf",
                "model.num_patches", "model.netf_nc", "data.synthetic.size", "eval.batch_size"]
    for dotted in positive:
        if _get(cfg, dotted) <= 0:
            raise ConfigError(f"{dotted}: expected a positive integer, got {_get(cfg, dotted)!r}")
    for dotted in ["model.n_blocks", "model.n_layers_d", "data.num_workers", "train.steps", "train.decay_steps",
                   "train.ckpt_every", "train.sample_every", "train.keep_every", "train.log_every", "data.max_images",
                   "train.eval_every", "eval.n_images"]:
        if _get(cfg, dotted) < 0:
            raise ConfigError(f"{dotted}: expected zero or more, got {_get(cfg, dotted)!r}")
    if cfg.data.crop_size > cfg.data.load_size and cfg.data.preprocess in ("resize_and_crop", "scale_width_and_crop"):
        raise ConfigError(f"data.crop_size ({cfg.data.crop_size}) must not exceed data.load_size "
                          f"({cfg.data.load_size})")
    _check_one_models_options(cfg)
    if cfg.model.n_downsampling not in (1, 2):
        raise ConfigError(f"model.n_downsampling: expected 1 or 2, got {cfg.model.n_downsampling!r}")
    downs = tuple(f"down{i}" for i in range(1, cfg.model.n_downsampling + 1))
    for name in cfg.model.nce_layers if cfg.model.name != "santa" else ():  # SANTA builds no F
        block = int(name[5:]) if name.startswith("block") and name[5:].isdigit() else None
        if name not in ("input", *downs) and (block is None or not 1 <= block <= cfg.model.n_blocks):
            raise ConfigError(f"model.nce_layers: unknown layer {name!r} with model.n_downsampling="
                              f"{cfg.model.n_downsampling} (expected input, {', '.join(downs)} "
                              f"or block1..block{cfg.model.n_blocks})")
    parse_diffaug(cfg.model.diffaug)
    _validate_levers(cfg)
    if not 0.0 <= cfg.train.ema < 1.0:
        raise ConfigError(f"train.ema: expected 0 (off) or a decay in (0, 1), got {cfg.train.ema!r}")
    if cfg.train.lr <= 0:
        raise ConfigError(f"train.lr: expected a positive learning rate, got {cfg.train.lr!r}")
    _validate_coop(cfg.coop)
    if cfg.train.steps > 0:  # the run's length is fixed here; with train.epochs it is known once the data is
        check_decay(cfg.train.steps, cfg.train.decay_steps)
        check_coop_fits(cfg.coop, cfg.train.steps)
    if cfg.train.eval_every > 0 and (cfg.data.domain_a or cfg.data.domain_b):
        raise ConfigError("train.eval_every needs a dataset folder with testA/ and testB/ (data.root); "
                          "two domain folders (data.domain_a, data.domain_b) have no test split")
    if cfg.model.ebm_head and not cfg.coop.enabled:
        raise ConfigError("model.ebm_head: the EBM head is only used by the CoopInit stage; set coop.enabled=true "
                          "or drop model.ebm_head")


def _validate_levers(cfg: Config) -> None:
    """The options of issue 23: the D variants, the patch choice."""
    m = cfg.model
    if m.d_scales < 1 or m.r1_every < 1:
        raise ConfigError(f"model.d_scales and model.r1_every: expected 1 or more, got {m.d_scales} and {m.r1_every}")
    for name in ("lambda_r1", "nce_hard_neg_beta", "g_mask_guide"):
        if getattr(m, name) < 0:
            raise ConfigError(f"model.{name}: expected zero (off) or more, got {getattr(m, name)!r}")
    # A PatchGAN of n strided layers needs 3·2^n pixels; the coarsest scale sees crop_size halved d_scales-1 times.
    coarsest, need = math.ceil(cfg.data.crop_size / 2 ** (m.d_scales - 1)), 3 * 2**m.n_layers_d
    if m.d_scales > 1 and coarsest < need:
        raise ConfigError(f"model.d_scales={m.d_scales}: the coarsest scale is {coarsest} px but a PatchGAN with "
                          f"model.n_layers_d={m.n_layers_d} needs {need}; use fewer scales or fewer D layers")
    if m.patch_select == "qs" and not any(name.startswith("block") for name in m.nce_layers):
        raise ConfigError("model.patch_select=qs selects patches on the trunk's NCE layers (block1..blockN), and "
                          "model.nce_layers names none; add one, e.g. block1")
    if m.g_mask_guide and not m.g_mask:
        raise ConfigError(f"model.g_mask_guide={m.g_mask_guide}: it filters a masked G's mask; add --set "
                          "model.g_mask=true, or leave model.g_mask_guide at 0")
    if m.g_mask_guide_train and not m.g_mask_guide:
        raise ConfigError("model.g_mask_guide_train: there is no filter to train with; set model.g_mask_guide to a "
                          "radius in px, or leave model.g_mask_guide_train at false")
    _validate_santa(cfg)
    if m.d_spectral_norm and cfg.coop.enabled and cfg.coop.switch == "calibrate":
        raise ConfigError("model.d_spectral_norm: coop.switch=calibrate rescales D's last conv, which spectral "
                          "norm undoes; use coop.switch=plain or warmup")


def _validate_santa(cfg: Config) -> None:
    s = cfg.model.santa
    for name in ("lambda_rec", "lambda_idt", "lambda_kl", "lambda_path", "noise_std", "lambda_mask",
                 "lambda_mask_edge", "lambda_mask_late", "mask_late_step"):
        if getattr(s, name) < 0:
            raise ConfigError(f"model.santa.{name}: expected zero (off) or more, got {getattr(s, name)!r}")
    if (s.mask_late_step > 0) != (s.lambda_mask_late > 0):
        raise ConfigError(f"model.santa.mask_late_step={s.mask_late_step} and model.santa.lambda_mask_late="
                          f"{s.lambda_mask_late}: set both (the step and the price from then on) or neither")
    if s.style_dim < 1:
        raise ConfigError(f"model.santa.style_dim: expected a positive integer, got {s.style_dim!r}")
    if not 0 <= s.path_interval_min <= s.path_interval_max <= 1:
        raise ConfigError(f"model.santa.path_interval_min/max: expected 0 <= min <= max <= 1, got "
                          f"{s.path_interval_min!r} and {s.path_interval_max!r}")


def _validate_coop(c: CoopConfig) -> None:
    for name in ("steps", "langevin_steps", "warmup_steps", "step_size", "noise", "lambda_teach", "alpha",
                 "teach_decay_steps"):
        if getattr(c, name) < 0:
            raise ConfigError(f"coop.{name}: expected zero or more, got {getattr(c, name)!r}")
    if c.sigma is not None and c.sigma <= 0:
        raise ConfigError(f"coop.sigma: expected a positive number or null (no reference term), got {c.sigma!r}")
    if c.calib_images < 1:
        raise ConfigError(f"coop.calib_images: expected a positive integer, got {c.calib_images!r}")
    if not 0.0 <= c.fraction < 1.0:
        raise ConfigError(f"coop.fraction: expected a share of train.steps in [0, 1), got {c.fraction!r}")
    if c.enabled and c.steps == 0 and c.fraction == 0:
        raise ConfigError("coop.steps: coop.enabled is true but the stage has 0 steps; set e.g. --set coop.steps=100 "
                          "or --set coop.fraction=0.05")
    if c.enabled and c.switch == "warmup" and c.warmup_steps == 0:
        raise ConfigError("coop.warmup_steps: coop.switch=warmup needs warm-up steps, e.g. --set coop.warmup_steps=20")


# ---------------------------------------------------------------------------------------------
# The run's length: validate() checks it where train.steps fixes it, the trainer once epochs became steps


def check_decay(total: int, decay: int) -> None:
    if decay > total:
        raise ConfigError(f"train.decay_steps ({decay}) exceeds the total number of steps ({total})")


def coop_steps(c: CoopConfig, total_steps: int) -> int:
    """coop.steps, or coop.fraction of the run (at least one step)."""
    return c.steps if c.steps > 0 else max(1, round(c.fraction * total_steps))


def check_coop_fits(c: CoopConfig, total_steps: int) -> None:
    """The cooperative stage and its warm-up leave CUT training at least one step (nothing when coop is off)."""
    if not c.enabled:
        return
    steps, warmup = coop_steps(c, total_steps), (c.warmup_steps if c.switch == "warmup" else 0)
    if steps + warmup >= total_steps:
        raise ConfigError(f"coop.steps ({steps}) + warm-up ({warmup}) must be less than the total number of "
                          f"steps ({total_steps}); CoopInit is meant to be a few percent of training")
