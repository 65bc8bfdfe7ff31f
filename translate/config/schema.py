"""The configuration schema: one typed dataclass per section, rooted at :class:`Config`, and the choice types.

The defaults here are the only defaults: model constructors take the same values. Loading (YAML, presets,
``--set``) is translate/config/load.py; the checks beyond types are translate/config/checks.py.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any, Literal

# Choice fields: the Literal is the one list of valid values (datasets/transforms.py, models/losses/gan.py,
# models/networks/generator.py, the metric registry and the CLI read them with choices(); tests/test_contract.py
# checks that each implementation covers its list).
Preprocess = Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"]
GanMode = Literal["lsgan", "vanilla", "nonsaturating", "hinge"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
DistBackend = Literal["auto", "gloo", "nccl"]
SwitchPolicy = Literal["plain", "calibrate", "warmup"]
NceNegatives = Literal["image", "batch"]
GSkip = Literal["none", "add", "concat"]  # models/networks/generator.py SKIPS
PatchSelect = Literal["random", "qs"]  # model.patch_select
SantaL1On = Literal["content", "output", "both", "split"]  # model.santa.l1_on (models/santa.py)
ModelName = Literal["cut", "santa"]  # model.name: models/cut.py, models/santa.py
Features = Literal["inception", "tiny"]  # translate/metrics/features.py EXTRACTORS
MetricName = Literal["fid", "kid", "lpips", "gt", "modes"]  # translate/metrics/registry.py METRICS
Background = Literal["smooth", "textured"]  # data.synthetic.background (datasets/synthetic.py, datasets/textures.py)
FigureName = Literal["fid", "kid", "lpips", "gt_l1", "gt_bg_l1", "gt_psnr", "shape_iou", "shape_iou_gt",
                     "mode_coverage", "mode_entropy", "mode_accuracy", "mode_accuracy_min", "source_share"]
# (FigureName: the keys of translate/metrics/registry.py FIGURES, which eval.best may name)


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a Literal choice type, e.g. choices(GanMode) == ("lsgan", "vanilla", ...)."""
    return typing.get_args(literal)


@dataclass
class SyntheticConfig:
    """The procedurally generated ``demo`` dataset (datasets/synthetic.py)."""

    size: int = 64  # side of the generated square images, in pixels
    n_train: int = 400  # images per domain in trainA / trainB
    n_test: int = 64  # images per domain in testA / testB (testA also gets paired ground truth)
    n_modes: int = 3  # texture styles in domain B (its modes; labels are written for the test split)
    seed: int = 0  # everything generated is a pure function of this seed
    # smooth: gradient sky and ground (the demo preset's task); textured: grass noise below the horizon and sky
    # noise above it (band-limited, datasets/textures.py), in both domains, the ground truth and the bare
    # backgrounds. At smooth the dataset's cache folder and files are those made before this option existed.
    background: Background = "smooth"


@dataclass
class DataConfig:
    root: str = ""  # dataset folder (trainA/trainB/...); set from the DATASET argument of `translate train`
    domain_a: str = ""  # alternatively two arbitrary folders, one per domain
    domain_b: str = ""  # with domain_a: the folder of domain B images
    data_root: str = ""  # where named datasets are downloaded ("" = $TRANSLATE_DATA or ~/.cache/translate)
    preprocess: Preprocess = "resize_and_crop"  # resize and crop of training images, as the reference does
    load_size: int = 286  # resize target before cropping
    crop_size: int = 256  # training crop
    flip: bool = True  # random horizontal flip
    jitter_off_in_decay: bool = True  # as in the CUT reference: load_size = crop_size during LR decay
    batch_size: int = 1  # images per step, per process (under torchrun the global batch is this x processes)
    num_workers: int = 0  # DataLoader worker processes; 0 loads in the main process
    pin_memory: bool = True  # only used on CUDA
    max_images: int = 0  # cap per domain (0 = all)
    # Extra training-image augmentation, in albumentations' own serialised form (A.to_dict output, one
    # transform dict, or a list of them), applied after crop and flip; null = none. datasets/transforms.py.
    augment: dict[str, Any] | list[dict[str, Any]] | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass
class SantaConfig:
    """SANTA's G objective (model.name=santa; models/santa.py), defaults from the paper's code."""

    lambda_rec: float = 5.0  # L1 reconstruction of A at d = 0
    lambda_idt: float = 5.0  # L1 identity of B at d = 1
    lambda_kl: float = 0.01  # weight of mean(h²) on the latents
    lambda_path: float = 0.01  # weight of the path-length (shortest-path) regulariser
    noise_std: float = 1.0  # σ of the Gaussian noise added to the latents in training (0 = none)
    style_dim: int = 8  # size of the domain embedding that drives the decoder's AdaIN
    path_interval_min: float = 0.05  # half-gap δ between the two compared d's is drawn from [min, max]
    path_interval_max: float = 0.10  # (the upper end of that range)
    # With a masked G (model.g_mask), what the rec and idt L1 terms compare: content, the decoder's image before
    # the mask blends the input in (so the latent must carry the whole image), output, the blended image
    # (which equals the input wherever the mask is off, so those terms no longer ask the latent for anything),
    # both (each term on each, at its weight), or split: rec on the content (the latent carries A's image) and
    # idt on the output (B images need no change, so the mask learns to shut where nothing must change)
    l1_on: SantaL1On = "content"
    lambda_mask: float = 0.0  # with a masked G: weight of mean(m) over the translations' masks (0 = off)
    # with a masked G: weight of the masks' edge-aware smoothness, meant to keep the mask's changes to the input's
    # edges (models/losses/mask.py; 0 = off; on the demo task worse at 1, 5 and 20)
    lambda_mask_edge: float = 0.0
    # with a masked G: the mask's logit also reads the input image at full resolution through a small conv head
    # (zero-initialised), meant to let the mask's border follow the input's edges (on the demo task: worse)
    mask_input: bool = False
    # with a masked G: from this step of the run on (0 = never), the mask's price is lambda_mask_late instead of
    # lambda_mask (a low price while the translation forms, a higher one once it has)
    mask_late_step: int = 0
    lambda_mask_late: float = 0.0  # the mask's price from mask_late_step on


@dataclass
class ModelConfig:
    name: ModelName = "cut"  # the translator: cut (CUT/FastCUT) or santa (SANTA, CVPR 2023; see the santa section)
    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    n_blocks: int = 9  # residual blocks in G
    n_layers_d: int = 3  # strided conv layers in the PatchGAN (3 = 70x70 receptive field)
    antialias: bool = True  # blur-pool downsampling in G and D (CUT default)
    antialias_up: bool = True  # [1,3,3,1] blur upsampling in G (CUT default); False = ConvTranspose
    init_gain: float = 0.02  # xavier init gain
    gan_mode: GanMode = "lsgan"  # GAN loss of G and D (CUT: lsgan)
    lambda_gan: float = 1.0  # weight of G's GAN loss
    lambda_nce: float = 1.0  # weight of the PatchNCE loss (CUT 1, FastCUT 10)
    nce_idt: bool = True  # identity NCE on (real_b, G(real_b)); CUT on, FastCUT off
    # G layers whose features PatchNCE compares: input, down1, down2 (with 2 downsamplings), blockN (1..n_blocks)
    nce_layers: list[str] = field(default_factory=lambda: ["input", "down1", "down2", "block1", "block5"])
    nce_t: float = 0.07  # PatchNCE temperature
    num_patches: int = 256  # patches sampled per layer
    netf_nc: int = 256  # width of F's MLP heads
    flip_equivariance: bool = False  # FastCUT: flip the input at random and undo it on the NCE queries
    diffaug: str = ""  # DiffAugment policy for D's inputs, e.g. "color,translation,cutout" ("" = off)
    nce_negatives: NceNegatives = "image"  # PatchNCE negatives: image (other patches of one image, as in CUT)
    ebm_head: bool = False  # CoopInit: D gets a separate EBM head on its trunk; the GAN head starts fresh at the switch
    n_downsampling: int = 2  # stride-2 stages of G (CUT's, SANTA's): 2 or 1 (trunk at half size; no down2 NCE layer)
    g_skip: GSkip = "none"  # U-Net-style encoder->decoder connections in G (CUT's, SANTA's): none, add, concat
    g_mask: bool = False  # G predicts a mask m and returns m·G(x) + (1 - m)·x: unmasked pixels stay the input's
    g_mask_guide: int = 0  # with g_mask: guided-filter radius (px) that moves m's border onto the input's edges
    g_mask_guide_train: bool = False  # filter the mask in training too (default: only when G translates)
    d_scales: int = 1  # PatchGANs at 1, 1/2, 1/4 ... resolution, GAN losses averaged (pix2pixHD); 1 = CUT's D
    d_spectral_norm: bool = False  # spectral normalisation of D's conv weights
    lambda_r1: float = 0.0  # γ of the R1 penalty γ/2·‖∇D(real)‖² (D = mean patch score); 0 = off
    r1_every: int = 1  # lazy R1: apply it on every k-th step of the run (steps 0, k, 2k ...), weighted by k
    patch_select: PatchSelect = "random"  # NCE patches: random (CUT) or qs (QS-Attn, on the trunk's NCE layers)
    nce_hard_neg_beta: float = 0.0  # hard negatives: PatchNCE negatives weighted by softmax(β·source relation); 0 = off
    santa: SantaConfig = field(default_factory=SantaConfig)  # SANTA's loss weights (used when name is santa)


@dataclass
class TrainConfig:
    steps: int = 0  # total optimisation steps (0 = derive from epochs and the size of domain A)
    decay_steps: int = 0  # the last decay_steps decay the LR linearly to zero
    epochs: float = 0.0  # alternative to steps: passes over domain A
    decay_epochs: float = 0.0  # with epochs: the last decay_epochs decay the LR linearly to zero
    lr: float = 2e-4  # Adam learning rate of G, F and D
    lr_per_epoch: bool = False  # change the LR once per pass over domain A, as the reference (off: every step)
    beta1: float = 0.5  # Adam β1
    beta2: float = 0.999  # Adam β2
    seed: int = 0  # seeds torch, Python and the data order: a run repeats exactly
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: Precision = "auto"  # auto: bf16 on CUDA GPUs that support it, fp32 on CPU (docs/benchmarks.md)
    channels_last: bool = False  # NHWC activations; off: slower on CPU (docs/benchmarks.md), untested on GPU
    compile: bool = False  # torch.compile G, D and F; off: minutes of compile for little gain (docs/benchmarks.md)
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

    features: Features = "inception"  # FID/KID features: inception (clean-fid, needs its weight file) | tiny (offline)
    metrics: list[MetricName] = field(default_factory=lambda: ["fid", "kid", "gt", "modes"])  # computed each time
    best: list[FigureName] = field(default_factory=lambda: ["kid"])  # keep ckpt/best_<figure>.pt for each of these
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
    clamp: bool = True  # clamp revisions to [-1, 1] after every Langevin step; false: unbounded, as CoopNets
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
