"""The checkpoint schema: one plain dict per file, written atomically and read with ``weights_only=True``.

Format 1::

    {"format": 1, "stage": str, "step": int, "config": dict, "models": {"G", "D", "F", "G_ema"?},
     "optim": {phase: state}, "sched": {"policy", "total_steps", "decay_steps", "lr"},
     "scaler": state | None, "rng": {"torch", "python", "cuda"?}}

Inference needs nothing but the file: translate/runfolder/translator.py rebuilds G from ``config``.
An inference checkpoint (``inference_state``, e.g. the bundled demo model) keeps only ``models: {"G", "D"?}``
(G being the training run's G_ema when it had one) and adds ``bundle``, a plain dict saying how it was made.
"""
from __future__ import annotations

import logging
import pickle
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from translate.config import SANTA_IGNORES, Config, config_from_dict, config_to_dict
from translate.errors import CheckpointError, TranslateError
from translate.atomic import atomic_open
from translate.runfolder.layout import RunFolder
from translate.safe_load_errors import describe_load_error

FORMAT = 1
NETWORKS = ("G", "D", "F")  # the CUTModel's networks, saved under models/
log = logging.getLogger(__name__)


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file in the same folder, fsync, then os.replace.

    The temp name holds this process's id (``.latest.pt.<pid>.<random>.tmp``), so a later start can tell an
    orphan of a killed save from a file still being written (translate/atomic.py, remove_stale_temps). A failed
    write (a full disk) leaves the previous file as it was and raises a CheckpointError naming the file.
    """
    path = Path(path)
    try:
        with atomic_open(path, "wb", fsync=True) as fh:
            torch.save(state, fh)
    except BaseException as e:  # atomic_open removed its temp file
        if isinstance(e, OSError) or (isinstance(e, RuntimeError) and "write" in str(e).lower()):
            kept = "the previous one is kept" if path.is_file() else "no earlier one exists"
            reason = getattr(e, "strerror", None) or str(e).splitlines()[0]
            raise CheckpointError(f"cannot write checkpoint {path} ({reason}); {kept}. Free some space "
                                  "(or fix the folder's permissions) and resume with --resume") from None
        raise
    return path


def _check_format(state, path: Path) -> dict:
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("models"), dict):
        raise CheckpointError(f"'{path}' is not a translate checkpoint of format {FORMAT}")
    return state


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (tensors and plain containers only; no code is unpickled)."""
    path = Path(path)
    if path.is_dir() and RunFolder(path).latest.is_file():
        path = RunFolder(path).latest
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found (expected RUN/ckpt/latest.pt from `translate train`)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(describe_load_error(path, e)) from None
    return _check_format(state, path)


def checkpoint_config(state: dict, path: str | Path = "the checkpoint") -> Config:
    """The run's config from a checkpoint dict, validated (types and size bounds) before anything is built."""
    saved = state.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"'{path}': its config is a {type(saved).__name__}, not a mapping; the file was "
                              "not written by `translate train` (or was edited)")
    model = saved.get("model")
    if isinstance(model, dict) and model.get("name") == "santa":
        # A SANTA run from before validate refused the options SANTA ignores: their defaults describe it as well.
        saved = {**saved, "model": {k: v for k, v in model.items() if k not in SANTA_IGNORES}}
    elif isinstance(model, dict) and "santa" in model:
        # A CUT run from before validate refused a santa block away from its defaults: CUT never read it.
        saved = {**saved, "model": {k: v for k, v in model.items() if k != "santa"}}
    try:
        return config_from_dict(saved)
    except TranslateError as e:
        raise CheckpointError(f"'{path}': its config is invalid for this version of translate: {e}") from None


# The model keys that change the networks' shapes or parameter names: a resumed run must keep them.
ARCHITECTURE = ("name", "ngf", "ndf", "n_blocks", "n_layers_d", "antialias", "antialias_up", "nce_layers", "netf_nc",
                "n_downsampling", "g_skip", "g_mask", "d_scales", "d_spectral_norm")


def architecture_changes(saved: Config, now: Config) -> list[str]:
    """``model.KEY (checkpoint -> now)`` for each architecture key that differs between two configs."""
    return [f"model.{k} ({getattr(saved.model, k)!r} in the checkpoint, {getattr(now.model, k)!r} now)"
            for k in ARCHITECTURE if getattr(saved.model, k) != getattr(now.model, k)]


def load_weights(module: torch.nn.Module, weights, name: str, path: str | Path) -> None:
    """``module.load_state_dict(weights)``, a mismatch reported in one line naming the file and the keys."""
    if not isinstance(weights, dict):
        raise CheckpointError(f"'{path}': its {name} weights are a {type(weights).__name__}, not a state dict")
    own = module.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    shapes = [k for k in own if k in weights and (not torch.is_tensor(weights[k]) or weights[k].shape != own[k].shape)]
    if missing or unexpected or shapes:
        example = (missing or unexpected or shapes)[0]
        raise CheckpointError(f"'{path}': its {name} weights do not fit the network its config describes "
                              f"({len(missing)} missing, {len(unexpected)} unexpected, {len(shapes)} of another "
                              f"shape, e.g. {example!r}); the file is not a checkpoint of this version of translate")
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError) as e:
        raise CheckpointError(f"'{path}': its {name} weights cannot be loaded: {str(e).splitlines()[0]}") from None


def capture_rng() -> dict:
    """Every RNG the training step draws from, in a form that loads with weights_only=True."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def training_state(*, stage: str, step: int, cfg: Config, networks, G_ema, optimizers: dict, sched: dict,
                   scaler) -> dict:
    """The checkpoint dict of a training run (format 1); ``networks`` holds G, D and F."""
    models = {name: getattr(networks, name).state_dict() for name in NETWORKS}
    if G_ema is not None:
        models["G_ema"] = G_ema.state_dict()
    return {
        "format": FORMAT, "stage": stage, "step": step, "config": config_to_dict(cfg), "models": models,
        "optim": {k: o.state_dict() for k, o in optimizers.items()}, "sched": sched,
        "scaler": scaler.state_dict() if scaler.is_enabled() else None, "rng": capture_rng(),
    }


def inference_state(state: dict, *, with_D: bool, bundle: dict, use_ema: bool = True) -> dict:
    """A slim copy of a training checkpoint for inference: G (from G_ema when present), D if asked, no optimiser.

    ``bundle`` (plain data: the reproduction command, seeds, source) is stored as is; the result loads with
    ``weights_only=True`` through load_translator like any checkpoint.
    """
    models = state["models"]
    key = "G_ema" if use_ema and "G_ema" in models else "G"
    slim = {"G": {k: v.detach().clone() for k, v in models[key].items()}}
    if with_D:
        if "D" not in models:
            raise CheckpointError("the source checkpoint holds no D to keep")
        slim["D"] = {k: v.detach().clone() for k, v in models["D"].items()}
    return {"format": FORMAT, "stage": state.get("stage", ""), "step": int(state.get("step", 0)),
            "config": state["config"], "models": slim, "bundle": {**bundle, "generator": key}}


def restore_networks(state: dict, networks, G_ema, path: str | Path = "the checkpoint") -> None:
    """Load G, D, F (and G_ema when both sides have it) from a checkpoint dict."""
    models = state["models"]
    for name in NETWORKS:
        if name not in models:
            raise CheckpointError(f"'{path}' holds no {name} weights, so training cannot resume from it")
        load_weights(getattr(networks, name), models[name], name, path)
    if G_ema is not None and "G_ema" in models:
        load_weights(G_ema, models["G_ema"], "G_ema", path)


def restore_optimisation(state: dict, optimizers: dict, scaler) -> None:
    """Optimiser states (of the phases this stage has), the AMP scaler and every RNG."""
    for phase, opt_state in state["optim"].items():
        if phase in optimizers:
            optimizers[phase].load_state_dict(opt_state)
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    restore_rng(state["rng"])


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint says about itself, read without materialising its weights."""

    path: Path  # the checkpoint file
    run: str  # run folder name, relative to the folder it was found in
    step: int  # optimisation steps done when it was saved
    stage: str  # training stage at save time (cut, coop, ...)
    preset: str  # config preset the run started from
    dataset: str  # what the run was trained on (demo, a folder, a zoo name)
    has_D: bool  # the checkpoint holds D, so test-time EBM refinement is possible
    config: Config  # the run's resolved config, as saved in the checkpoint

    @property
    def label(self) -> str:
        kept = "" if self.path.name == "latest.pt" else f" [{self.path.stem}]"
        return f"{self.run}{kept} · step {self.step} · {self.preset} · {Path(self.dataset).name or '?'}"


def read_checkpoint_info(path: Path, run: str) -> CheckpointInfo:
    """Read a checkpoint's metadata without materialising its weights (memory-mapped, weights_only=True)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        raise CheckpointError(f"cannot read checkpoint '{path}': {type(e).__name__}") from None
    _check_format(state, path)
    cfg = checkpoint_config(state, path)
    return CheckpointInfo(path=path, run=run, step=int(state.get("step", 0)), stage=str(state.get("stage", "")),
                          preset=cfg.preset, dataset=cfg.dataset, has_D="D" in state["models"], config=cfg)
