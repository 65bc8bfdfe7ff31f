"""Rebuilding what inference needs from a checkpoint alone: a :class:`Translator` (G or G_ema, D, the refiner).

apply, eval, export, the web demo and the benchmarks load through :func:`load_translator`, the one loader;
the refiner takes its settings from the checkpoint's ``coop`` section unless the caller overrides the step size.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from translate.config import Config
from translate.errors import CheckpointError, TranslateError
from translate.runfolder.schema import checkpoint_config, load_checkpoint, load_weights


@dataclass(frozen=True)
class Translator:
    """A trained translator, ready for inference: networks in eval mode without gradients, on ``device``."""

    G: nn.Module  # the generator; G_ema's weights when the checkpoint has them and they were asked for
    cfg: Config  # the checkpoint's own config (it rebuilt G)
    device: torch.device  # where G (and D) are
    generator: str  # "G_ema" or "G": whose weights G holds
    step: int  # the training step the checkpoint was written at
    stage: str | None  # the training stage at that step (None in an inference checkpoint without one)
    D: nn.Module | None = None  # the discriminator / EBM: loaded only when asked for and saved

    def refiner(self, steps: int, step_size: float | None = None):
        """The test-time Langevin refiner under D's energy (``step_size`` overrides the checkpoint's δ)."""
        if self.D is None:
            raise CheckpointError("this checkpoint holds no discriminator D to refine with (or it was not loaded)")
        if not refiner_available():
            raise TranslateError("test-time refinement needs translate.models.coop, which this install lacks")
        from translate.models.coop import build_refiner

        coop = self.cfg.coop
        return build_refiner(self.D, steps, coop.step_size if step_size is None else step_size, sigma=coop.sigma,
                             normalize=coop.normalize_step)


def load_translator(path: str | Path, device: str | torch.device = "cpu", use_ema: bool = True,
                    with_discriminator: bool = False, state: dict | None = None) -> Translator:
    """The :class:`Translator` of checkpoint ``path`` (a .pt file or a run folder), rebuilt from its own config.

    ``use_ema``: G_ema's weights when the checkpoint has them. ``with_discriminator``: also rebuild D (None
    when the checkpoint has none). ``state``: the checkpoint dict when the caller already read it with
    load_checkpoint (``translate eval`` reads the config first); ``path`` then only names it in errors.
    """
    from translate.models.cut import build_discriminator, build_generator  # local: keeps this import light

    state = load_checkpoint(path, map_location="cpu") if state is None else state
    cfg = checkpoint_config(state, path)
    models = state["models"]
    key = "G_ema" if use_ema and "G_ema" in models else "G"
    if key not in models:
        raise CheckpointError(f"checkpoint '{path}' holds no generator weights")
    device = torch.device(device)
    G = build_generator(cfg.model)
    load_weights(G, models[key], key, path)
    G.to(device).eval().requires_grad_(False)
    D = None
    if with_discriminator and "D" in models:
        D = build_discriminator(cfg.model)
        load_weights(D, models["D"], "D", path)
        D.to(device).eval().requires_grad_(False)
    return Translator(G=G, cfg=cfg, device=device, generator=key, step=int(state.get("step", 0)),
                      stage=state.get("stage"), D=D)


def refiner_available() -> bool:
    """Test-time EBM refinement needs the CoopInit code (translate.models.coop.build_refiner)."""
    try:
        from translate.models.coop import build_refiner  # noqa: F401
    except ImportError:
        return False
    return True
