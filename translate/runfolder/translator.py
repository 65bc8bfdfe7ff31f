"""Rebuilding what inference needs from a checkpoint alone: G (or G_ema), D, and the test-time refiner.

apply, eval and the web demo load through here; the refiner takes its settings from the checkpoint's
``coop`` section unless the caller overrides the step size.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from translate.config import Config
from translate.errors import CheckpointError, TranslateError
from translate.runfolder.schema import checkpoint_config, load_checkpoint, load_weights


def load_translator(path: str | Path, device: str | torch.device = "cpu", use_ema: bool = True,
                    with_discriminator: bool = False) -> tuple[nn.Module, Config] | tuple[nn.Module, Config, nn.Module | None]:
    """G (G_ema when present and ``use_ema``) in eval mode, rebuilt from the checkpoint's own config.

    With ``with_discriminator=True`` returns ``(G, cfg, D)``, D being None when the checkpoint has none.
    apply, eval (through translator_from_state) and the web demo load no other way.
    """
    state = load_checkpoint(path, map_location="cpu")
    return translator_from_state(state, path, device, use_ema, with_discriminator)


def translator_from_state(state: dict, path: str | Path, device: str | torch.device = "cpu", use_ema: bool = True,
                          with_discriminator: bool = False):
    """load_translator on a checkpoint dict already read by load_checkpoint (``path`` names it in errors)."""
    from translate.models.cut import build_discriminator, build_generator  # local: keeps this import light

    cfg = checkpoint_config(state, path)
    models = state["models"]
    key = "G_ema" if use_ema and "G_ema" in models else "G"
    if key not in models:
        raise CheckpointError(f"checkpoint '{path}' holds no generator weights")
    G = build_generator(cfg.model)
    load_weights(G, models[key], key, path)
    G.to(device).eval().requires_grad_(False)
    if not with_discriminator:
        return G, cfg
    D = None
    if "D" in models:
        D = build_discriminator(cfg.model)
        load_weights(D, models["D"], "D", path)
        D.to(device).eval().requires_grad_(False)
    return G, cfg, D


def refiner_available() -> bool:
    """Test-time EBM refinement needs the CoopInit code (translate.models.coop.build_refiner)."""
    try:
        from translate.models.coop import build_refiner  # noqa: F401
    except ImportError:
        return False
    return True


def build_checkpoint_refiner(cfg: Config, D: nn.Module, steps: int, step_size: float | None = None):
    """The Langevin refiner under D's energy with the checkpoint's coop settings (``step_size`` overrides δ)."""
    if not refiner_available():
        raise TranslateError("test-time refinement needs translate.models.coop, which this install lacks")
    from translate.models.coop import build_refiner

    coop = cfg.coop
    return build_refiner(D, steps, coop.step_size if step_size is None else step_size, sigma=coop.sigma,
                         normalize=coop.normalize_step)
