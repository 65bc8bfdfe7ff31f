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
import os
import pickle
import random
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from translate.config import Config, config_from_dict, config_to_dict
from translate.errors import CheckpointError, TranslateError
from translate.runfolder.layout import RunFolder
from translate.safe_load_errors import describe_load_error

FORMAT = 1
NETWORKS = ("G", "D", "F")  # the CUTModel's networks, saved under models/
log = logging.getLogger(__name__)


def save_checkpoint(state: dict, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a temp file in the same folder, fsync, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _check_format(state, path: Path) -> dict:
    if not isinstance(state, dict) or state.get("format") != FORMAT or "models" not in state:
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


def checkpoint_config(state: dict) -> Config:
    try:
        return config_from_dict(state["config"])
    except TranslateError as e:
        raise CheckpointError(f"checkpoint config is invalid for this version of translate: {e}") from None


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


def restore_networks(state: dict, networks, G_ema) -> None:
    """Load G, D, F (and G_ema when both sides have it) from a checkpoint dict."""
    for name in NETWORKS:
        getattr(networks, name).load_state_dict(state["models"][name])
    if G_ema is not None and "G_ema" in state["models"]:
        G_ema.load_state_dict(state["models"]["G_ema"])


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
    cfg = checkpoint_config(state)
    return CheckpointInfo(path=path, run=run, step=int(state.get("step", 0)), stage=str(state.get("stage", "")),
                          preset=cfg.preset, dataset=cfg.dataset, has_D="D" in state["models"], config=cfg)
