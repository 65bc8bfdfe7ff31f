"""The one-line message for a checkpoint that ``torch.load(weights_only=True)`` refused or could not read.

PyTorch's own first line for a refused file advises re-running with ``weights_only=False``, which would
execute whatever the file holds: the wrong advice for an untrusted download. This module says instead
what happened (the file holds code or Python objects, so it is refused) and names what it references.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

# Torch names the blocked callable or class: "Unsupported global: GLOBAL x.y" or "unsupported GLOBAL x.y".
_GLOBAL = re.compile(r"GLOBAL\s+([\w.]+)")


def is_refused_object(error: BaseException) -> bool:
    """Whether ``error`` is the weights-only unpickler refusing code or an object (not a damaged file)."""
    return isinstance(error, pickle.UnpicklingError) and "weights only load failed" in str(error).lower()


def describe_load_error(path: str | Path, error: BaseException) -> str:
    """One line for the user: refused (holds code or objects) or unreadable (corrupt, truncated, foreign)."""
    if is_refused_object(error):
        found = _GLOBAL.search(str(error))
        what = f" (it references {found[1]})" if found else ""
        return (f"refusing checkpoint '{path}': it holds code or Python objects{what}, not only tensors and "
                "plain data, and loading it could run that code; use a checkpoint written by `translate train`")
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return (f"cannot read checkpoint '{path}': {first}. It is corrupt, truncated or not a translate checkpoint; "
            "only tensors and plain data are accepted.")
