"""Typed configuration: dataclasses loaded from YAML, with dotted ``--set`` overrides.

Only ``build_*`` functions read these objects; networks and losses take plain arguments.
An unknown key, a value of the wrong type or a choice outside a ``Literal`` is a :class:`ConfigError`
naming the dotted path. The defaults here are the only defaults: model constructors take the same values.
A preset may start from another with ``base: NAME`` (a preset name or a YAML path) and list only its changes.
"""
from __future__ import annotations

import dataclasses
import importlib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from translate.errors import ConfigError

CONFIG_DIR = Path(importlib.import_module("translate.configs").__file__).resolve().parent  # the YAML presets

# Choice fields: the Literal is the one list of valid values (datasets/transforms.py, models/losses/gan.py
# and the CLI read them with choices()).
Preprocess = Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"]
GanMode = Literal["lsgan", "vanilla", "nonsaturating", "hinge"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
DistBackend = Literal["auto", "gloo", "nccl"]
SwitchPolicy = Literal["plain", "calibrate", "warmup"]
NceNegatives = Literal["image", "batch"]
GSkip = Literal["none", "add", "concat"]  # models/networks/generator.py SKIPS
DIFFAUG_OPS = ("color", "translation", "cutout")  # model.diffaug: a comma-separated subset (models/augment.py)


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a Literal choice type, e.g. choices(GanMode) == ("lsgan", "vanilla", ...)."""
    return typing.get_args(literal)


def parse_diffaug(policy: str) -> tuple[str, ...]:
    """model.diffaug as its ops, e.g. "color, cutout" -> ("color", "cutout"); the one check of the policy."""
    ops = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [op for op in ops if op not in DIFFAUG_OPS]
    if unknown:
        raise ConfigError(f"model.diffaug: unknown augmentation {', '.join(map(repr, unknown))} "
                          f"(expected a comma-separated subset of {', '.join(DIFFAUG_OPS)}, or '' for none)")
    return ops


@dataclass
class SyntheticConfig:
    """The procedurally generated ``demo`` dataset (datasets/synthetic.py)."""

    size: int = 64  # side of the generated square images, in pixels
    n_train: int = 400  # images per domain in trainA / trainB
    n_test: int = 64  # images per domain in testA / testB (testA also gets paired ground truth)
    n_modes: int = 3  # texture styles in domain B (its modes; labels are written for the test split)
    seed: int = 0  # everything generated is a pure function of this seed


@dataclass
class DataConfig:
    root: str = ""  # dataset folder (trainA/trainB/...); set from the DATASET argument of `translate train`
    domain_a: str = ""  # alternatively two arbitrary folders, one per domain
    domain_b: str = ""
    data_root: str = ""  # where named datasets are downloaded ("" = $TRANSLATE_DATA or ~/.cache/translate)
    preprocess: Preprocess = "resize_and_crop"
    load_size: int = 286  # resize target before cropping
    crop_size: int = 256  # training crop
    flip: bool = True  # random horizontal flip
    jitter_off_in_decay: bool = True  # as in the CUT reference: load_size = crop_size during LR decay
    batch_size: int = 1
    num_workers: int = 0  # DataLoader worker processes; 0 loads in the main process
    pin_memory: bool = True  # only used on CUDA
    max_images: int = 0  # cap per domain (0 = all)
    # Extra training-image augmentation, in albumentations' own serialised form (A.to_dict output, one
    # transform dict, or a list of them), applied after crop and flip; null = none. datasets/transforms.py.
    augment: dict[str, Any] | list[dict[str, Any]] | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class ModelConfig:
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    n_blocks: int = 9  # residual blocks in G
    n_layers_d: int = 3  # strided conv layers in the PatchGAN (3 = 70x70 receptive field)
    antialias: bool = True  # blur-pool downsampling in G and D (CUT default)
    antialias_up: bool = True  # [1,3,3,1] blur upsampling in G (CUT default); False = ConvTranspose
    init_gain: float = 0.02  # xavier init gain
    gan_mode: GanMode = "lsgan"
    lambda_gan: float = 1.0
    lambda_nce: float = 1.0
    nce_idt: bool = True  # identity NCE on (real_b, G(real_b)); CUT on, FastCUT off
    nce_layers: list[str] = field(default_factory=lambda: ["input", "down1", "down2", "block1", "block5"])
    nce_t: float = 0.07  # PatchNCE temperature
    num_patches: int = 256  # patches sampled per layer
    netf_nc: int = 256  # width of F's MLP heads
    flip_equivariance: bool = False  # FastCUT: flip the input at random and undo it on the NCE queries
    diffaug: str = ""  # DiffAugment policy for D's inputs, e.g. "color,translation,cutout" ("" = off)
    nce_negatives: NceNegatives = "image"  # PatchNCE negatives: image (other patches of one image, as in CUT)
    ebm_head: bool = False  # CoopInit: D gets a separate EBM head on its trunk; the GAN head starts fresh at the switch
    n_downsampling: int = 2  # G's stride-2 stages: 2 (CUT) or 1 (trunk at half resolution; no down2 NCE layer)
    g_skip: GSkip = "none"  # U-Net-style encoder->decoder connections in G: none (CUT), add or concat
    d_scales: int = 1  # PatchGANs at 1, 1/2, 1/4 ... resolution, GAN losses averaged (pix2pixHD); 1 = CUT's D
    d_spectral_norm: bool = False  # spectral normalisation of D's conv weights
    lambda_r1: float = 0.0  # γ of the R1 penalty γ/2·‖∇D(real)‖² (D = mean patch score); 0 = off
    r1_every: int = 1  # lazy R1: apply it every k-th D step, weighted by k


@dataclass
class TrainConfig:
    steps: int = 0  # total optimisation steps (0 = derive from epochs and the size of domain A)
    decay_steps: int = 0  # the last decay_steps decay the LR linearly to zero
    epochs: float = 0.0  # alternative to steps: passes over domain A
    decay_epochs: float = 0.0
    lr: float = 2e-4
    lr_per_epoch: bool = False  # change the LR once per pass over domain A, as the reference (off: every step)
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: Precision = "auto"  # auto: fp32 on CPU, bf16 on GPUs that support it
    channels_last: bool = False  # NHWC activations; off: slower on CPU (README benchmark), untested on GPU
    compile: bool = False  # torch.compile G, D and F; off: minutes of compile for little gain (README benchmark)
    dist_backend: DistBackend = "auto"  # under torchrun: auto = nccl on CUDA, gloo on CPU
    ema: float = 0.0  # decay of an exponential moving average of G (0 = off)
    log_every: int = 10  # steps between log.jsonl records
    sample_every: int = 500  # steps between sample grids (0 = only at the end)
    ckpt_every: int = 1000  # steps between writes of ckpt/latest.pt
    keep_every: int = 0  # also keep ckpt/step_N.pt every N steps (0 = never)
    n_samples: int = 4  # images in each sample grid
    threads: int = 0  # torch intra-op threads on CPU (0 = torch default)
    eval_every: int = 0  # steps between evaluations on a fixed test subset, see EvalConfig (0 = never)


@dataclass
class EvalConfig:
    """Evaluation during training (translate/metrics/hook.py); how often is train.eval_every."""

    features: str = "inception"  # FID/KID features: inception (clean-fid, needs its weight file) | tiny (offline)
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid", "gt", "modes"])  # of fid, kid, lpips, gt, modes
    best: list[str] = field(default_factory=lambda: ["kid"])  # keep ckpt/best_<metric>.pt for each of these
    n_images: int = 64  # the fixed test subset: the first N test A images (0 = all); B is always all of test B
    split: str = "test"  # the split whose A/B folders are used
    batch_size: int = 16  # images per forward pass during evaluation
    tensorboard: bool = False  # also write losses and figures to RUN/tb/ (needs the tensorboard package)


@dataclass
class CoopConfig:
    """The CoopInit stage (Zhao, Xie, Li; AAAI 2023): D as an EBM teaching G by Langevin revision, then CUT."""

    enabled: bool = False  # put a cooperative stage of `steps` steps in front of CUT training
    steps: int = 0  # steps of the cooperative stage, counted in train.steps
    fraction: float = 0.0  # alternatively a share of train.steps (used when steps is 0), e.g. 0.05
    langevin_steps: int = 15  # T, Langevin steps per revision
    step_size: float = 0.01  # δ; with normalize_step the RMS pixel move per Langevin step
    noise: float = 0.0  # η, Langevin noise scale (0 = deterministic revision)
    sigma: float | None = None  # σ of the Gaussian reference ‖y‖²/(2σ²); null = no reference term
    normalize_step: bool = True  # rescale the energy gradient to unit RMS per image (transfers across sizes)
    lambda_teach: float = 10.0  # weight of ‖G(real_a) - ỹ‖² (per-pixel mean) in G's cooperative loss
    alpha: float = 0.1  # energy-magnitude regulariser of the EBM loss (on per-patch means)
    switch: SwitchPolicy = "plain"  # calibrate: affine fit of D's last layer; warmup: D-only steps
    warmup_steps: int = 0  # D-only LSGAN steps after the cooperative stage when switch=warmup
    calib_images: int = 16  # images per domain for switch=calibrate
    init_noise: float = 0.0  # std of Gaussian noise added to G(real_a) before the revision starts (0 = none)
    teach_decay_steps: int = 0  # keep teaching into CUT training, λ_teach falling linearly to 0 over N steps (0 = off)


@dataclass
class Config:
    preset: str = "cut"  # name of the preset this run started from
    dataset: str = ""  # what the user typed as DATASET (demo, a folder, a zoo name)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    coop: CoopConfig = field(default_factory=CoopConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# ---------------------------------------------------------------------------------------------
# Building a Config from dicts, with validation


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, path: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted where floats are expected."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{path}: expected one of {', '.join(map(str, allowed))}, got {value!r}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {value!r}")
        return dict(value)  # free-form (e.g. an albumentations pipeline): checked where it is built
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return _from_dict(tp, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{path}: unexpected value {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_coerce(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r}")
        if not math.isfinite(value):  # nan poisons every weight at the first step; inf is never meant
            raise ConfigError(f"{path}: expected a finite number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    return value


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in hints:
            raise ConfigError(f"unknown config key '{path}' (expected one of: {', '.join(names)})")
        kwargs[key] = _coerce(value, hints[key], path)
    return cls(**kwargs)


def config_from_dict(data: dict) -> Config:
    cfg = _from_dict(Config, data or {})
    validate(cfg)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


# ---------------------------------------------------------------------------------------------
# YAML files, presets and --set overrides


def resolve_config_path(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a preset in configs/ (``cut``, ``fastcut``, ``demo`` ...)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    preset = CONFIG_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    presets = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise ConfigError(f"config file '{name_or_path}' not found (give a YAML path or a preset: {presets})")


def load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted}: '{k}' is not a section")
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``model.ngf=32`` -> ("model.ngf", 32); values are parsed as YAML scalars or lists."""
    if "=" not in text:
        raise ConfigError(f"--set '{text}': expected key=value, e.g. --set model.ngf=32")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for k, v in update.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_preset(name_or_path: str, _seen: tuple[Path, ...] = ()) -> dict:
    """A preset or YAML file as a dict, with its ``base:`` chain merged in (the base first, then the file).

    A base's ``preset`` name is not inherited: the result names a preset only where the file itself does.
    """
    path = resolve_config_path(name_or_path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.stem for p in (*_seen, path.resolve()))
        raise ConfigError(f"{path}: 'base:' chain loops ({chain})")
    data = load_yaml(path)
    parent = data.pop("base", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{path}: base: expected a preset name or a YAML path, got {parent!r}")
    if not Path(parent).is_absolute() and (path.parent / parent).is_file():
        parent = str(path.parent / parent)  # a relative YAML path is relative to the file that names it
    inherited = load_preset(parent, (*_seen, path.resolve()))
    inherited.pop("preset", None)
    return merge(inherited, data)


def load_config(config: str | None = None, overrides: list[str] | tuple[str, ...] = (), base: dict | None = None) -> Config:
    """Preset or YAML file, then ``--set`` overrides, validated. ``base`` (e.g. a run's saved config) goes first."""
    data: dict = dict(base or {})
    if config:
        data = merge(data, load_preset(config))
        data.setdefault("preset", resolve_config_path(config).stem)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(data, key, value)
    return config_from_dict(data)


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


# ---------------------------------------------------------------------------------------------
# Semantic checks beyond types

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
    "model.num_patches": 16384, "model.netf_nc": 8192, "model.d_scales": 4,
    "data.load_size": 8192, "data.crop_size": 8192, "data.batch_size": 4096,
    "data.synthetic.size": 1024, "data.synthetic.n_train": 100_000, "data.synthetic.n_test": 100_000,
    "data.synthetic.n_modes": 64, "train.n_samples": 256, "coop.langevin_steps": 10_000,
}


def validate(cfg: Config) -> None:
    for dotted, bound in SIZE_BOUNDS.items():
        if _get(cfg, dotted) > bound:
            raise ConfigError(f"{dotted}={_get(cfg, dotted)} is beyond this version's bound of {bound} "
                              "(refused before anything is allocated)")
    positive = ["data.load_size", "data.crop_size", "data.batch_size", "model.ngf", "model.ndf",
                "model.num_patches", "model.netf_nc", "data.synthetic.size"]
    for dotted in positive:
        if _get(cfg, dotted) <= 0:
            raise ConfigError(f"{dotted}: expected a positive integer, got {_get(cfg, dotted)!r}")
    for dotted in ["model.n_blocks", "model.n_layers_d", "data.num_workers", "train.steps", "train.decay_steps", "train.ckpt_every",
                   "train.sample_every", "train.keep_every", "train.log_every", "data.max_images"]:
        if _get(cfg, dotted) < 0:
            raise ConfigError(f"{dotted}: expected zero or more, got {_get(cfg, dotted)!r}")
    if cfg.data.crop_size > cfg.data.load_size and cfg.data.preprocess in ("resize_and_crop", "scale_width_and_crop"):
        raise ConfigError(f"data.crop_size ({cfg.data.crop_size}) must not exceed data.load_size ({cfg.data.load_size})")
    if cfg.model.n_downsampling not in (1, 2):
        raise ConfigError(f"model.n_downsampling: expected 1 or 2, got {cfg.model.n_downsampling!r}")
    downs = tuple(f"down{i}" for i in range(1, cfg.model.n_downsampling + 1))
    for name in cfg.model.nce_layers:
        block = int(name[5:]) if name.startswith("block") and name[5:].isdigit() else None
        if name not in ("input", *downs) and (block is None or not 1 <= block <= cfg.model.n_blocks):
            raise ConfigError(f"model.nce_layers: unknown layer {name!r} with model.n_downsampling="
                              f"{cfg.model.n_downsampling} (expected input, {', '.join(downs)} "
                              f"or block1..block{cfg.model.n_blocks})")
    parse_diffaug(cfg.model.diffaug)
    _validate_d(cfg)
    if not 0.0 <= cfg.train.ema < 1.0:
        raise ConfigError(f"train.ema: expected 0 (off) or a decay in (0, 1), got {cfg.train.ema!r}")
    if cfg.train.lr <= 0:
        raise ConfigError(f"train.lr: expected a positive learning rate, got {cfg.train.lr!r}")
    _validate_coop(cfg.coop)
    if cfg.model.ebm_head and not cfg.coop.enabled:
        raise ConfigError("model.ebm_head: the EBM head is only used by the CoopInit stage; set coop.enabled=true "
                          "or drop model.ebm_head")


def _validate_d(cfg: Config) -> None:
    m = cfg.model
    if m.d_scales < 1 or m.r1_every < 1:
        raise ConfigError(f"model.d_scales and model.r1_every: expected 1 or more, got {m.d_scales} and {m.r1_every}")
    if m.lambda_r1 < 0:
        raise ConfigError(f"model.lambda_r1: expected zero (off) or more, got {m.lambda_r1!r}")
    # A PatchGAN of n strided layers needs 3·2^n pixels; the coarsest scale sees crop_size halved d_scales-1 times.
    coarsest, need = math.ceil(cfg.data.crop_size / 2 ** (m.d_scales - 1)), 3 * 2**m.n_layers_d
    if m.d_scales > 1 and coarsest < need:
        raise ConfigError(f"model.d_scales={m.d_scales}: the coarsest scale is {coarsest} px but a PatchGAN with "
                          f"model.n_layers_d={m.n_layers_d} needs {need}; use fewer scales or fewer D layers")
    if m.d_spectral_norm and cfg.coop.enabled and cfg.coop.switch == "calibrate":
        raise ConfigError("model.d_spectral_norm: coop.switch=calibrate rescales D's last conv, which spectral "
                          "norm undoes; use coop.switch=plain or warmup")


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
