"""The mixed-precision policy of the CUT objective (Park et al., ECCV 2020): which parts stay in fp32 under
bf16 or fp16 autocast.

Autocast runs convolutions, linear layers and matrix products in 16-bit floats (bf16 keeps 8 bits of
mantissa: a relative error of 2^-9 per value). A part in the active policy runs with autocast switched off, on
fp32 copies of its inputs, wherever ``fp32("part")`` wraps it:

- ``nce`` (on by default): F's projection, the PatchNCE logits q·k/τ and their cross-entropy (models/cut.py).
  With τ = 0.07 the logits are dot products of unit vectors times 14, so bf16's rounding of q·k is magnified
  14 times inside the softmax. Kept in fp32 because it is cheap (a few small matrix products) and removes
  that error from the loss; ``benchmarks/bf16_diagnosis.py`` finds it is not what makes bf16 training lag
  (docs/benchmarks.md, "bf16 training"), so this is a precaution, not the repair.
- ``gan``: D's last conv, whose output is the LSGAN logit (models/networks/discriminator.py); the loss itself
  (``mse_loss``) already runs in fp32 under autocast.
- ``norm``: instance normalisation's statistics and output (models/networks/norm.py).

``gan`` and ``norm`` are off: the diagnosis measured no gain from either. ``fp32_parts`` switches the policy
for a block (the diagnosis and the tests compare policies).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch

PARTS = ("nce", "gan", "norm")
DEFAULT_FP32 = frozenset({"nce"})  # see the module docstring
_fp32_parts = DEFAULT_FP32


def fp32(part: str, device_type: str):
    """A context that switches autocast off for ``part`` when the policy keeps it in fp32 and autocast is
    on for ``device_type``; a no-op otherwise. The code inside casts its inputs with ``.float()``."""
    if part not in _fp32_parts or not torch.is_autocast_enabled(device_type):
        return contextlib.nullcontext()
    return torch.autocast(device_type, enabled=False)


def wants_fp32(part: str) -> bool:
    """Whether the policy keeps ``part`` in fp32 (for code that casts outside an ``fp32`` block)."""
    return part in _fp32_parts


@contextlib.contextmanager
def fp32_parts(parts: Iterable[str]) -> Iterator[None]:
    """Use another policy inside the block (the diagnosis script and the tests compare policies)."""
    global _fp32_parts
    parts = frozenset(parts)
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown fp32 part(s) {sorted(unknown)}; expected some of {PARTS}")
    previous, _fp32_parts = _fp32_parts, parts
    try:
        yield
    finally:
        _fp32_parts = previous
