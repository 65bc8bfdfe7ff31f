"""Checkpoints: one plain dict per file, written atomically and read with ``weights_only=True``.

Layout (format 1)::

    {"format": 1, "stage": str, "step": int, "config": dict, "models": {"G", "D", "F", "G_ema"?},
     "optim": {phase: state}, "sched": {phase: state}, "scaler": state | None, "rng": {...}}

Inference needs nothing but the file: :func:`load_translator` rebuilds G from ``config``.
"""
from __future__ import annotations

import logging
import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path

import torch
from torch import nn

from translate.config import Config, config_from_dict
from translate.errors import CheckpointError, TranslateError
from translate.safe_load_errors import describe_load_error

FORMAT = 1
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


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (tensors and plain containers only; no code is unpickled)."""
    path = Path(path)
    if path.is_dir() and (path / "ckpt" / "latest.pt").is_file():
        path = path / "ckpt" / "latest.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' not found (expected RUN/ckpt/latest.pt from `translate train`)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(describe_load_error(path, e)) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or "models" not in state:
        raise CheckpointError(f"'{path}' is not a translate checkpoint of format {FORMAT}")
    return state


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


def load_translator(path: str | Path, device: str | torch.device = "cpu", use_ema: bool = True,
                    with_discriminator: bool = False) -> tuple[nn.Module, Config] | tuple[nn.Module, Config, nn.Module | None]:
    """G (G_ema when present and ``use_ema``) in eval mode, rebuilt from the checkpoint's own config.

    With ``with_discriminator=True`` returns ``(G, cfg, D)``, D being None when the checkpoint has none.
    This is the only loader that apply, eval and the web demo use.
    """
    from translate.models.cut import build_discriminator, build_generator  # local: keeps this import light

    state = load_checkpoint(path, map_location="cpu")
    cfg = checkpoint_config(state)
    models = state["models"]
    key = "G_ema" if use_ema and "G_ema" in models else "G"
    if key not in models:
        raise CheckpointError(f"checkpoint '{path}' holds no generator weights")
    G = build_generator(cfg.model)
    G.load_state_dict(models[key])
    G.to(device).eval().requires_grad_(False)
    if not with_discriminator:
        return G, cfg
    D = None
    if "D" in models:
        D = build_discriminator(cfg.model)
        D.load_state_dict(models["D"])
        D.to(device).eval().requires_grad_(False)
    return G, cfg, D
