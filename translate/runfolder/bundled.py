"""The bundled demo checkpoint: where it lives in the package, how ``--ckpt demo`` finds it, its examples.

``translate/assets/demo.pt`` is a slim inference checkpoint (schema.inference_state: G, optionally D, the
config and a ``bundle`` record of the command and seed that reproduce it), written by
``benchmarks/make_demo_checkpoint.py`` from a finished ``translate train demo`` run and shipped as package
data. Next to it, ``demo.json`` holds the figures it scored on the demo test split when it was made and
the floors tests/test_bundled_demo.py holds it to.

``--ckpt demo`` (apply, eval, demo) means that file, except where the current folder has a file or folder
named ``demo``: a path the user can see wins, and a warning says where the bundled model is.
The bundled file is the one checkpoint trusted enough for the demo page to generate its dataset's test
images (offline, seconds) as examples; any other checkpoint's examples come from folders already there.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from translate.errors import CheckpointError

log = logging.getLogger(__name__)

NAME = "demo"  # what --ckpt takes for the bundled checkpoint
ASSETS = Path(__file__).resolve().parents[1] / "assets"  # translate/assets/, package data
MAX_BYTES = 5_000_000  # the bundled file's size limit (5 MB): it ships in every install
MAKE_COMMAND = "python benchmarks/make_demo_checkpoint.py RUN/ckpt/latest.pt"


def bundled_checkpoint() -> Path:
    """translate/assets/demo.pt (it may be missing, e.g. in a source checkout made before it was added)."""
    return ASSETS / f"{NAME}.pt"


def bundled_scores() -> Path:
    """translate/assets/demo.json: the figures the bundled checkpoint scored when made, and its floors."""
    return ASSETS / f"{NAME}.json"


def missing_message() -> str:
    return (f"the bundled demo checkpoint {bundled_checkpoint()} is not in this install; make it from a finished "
            f"run with `{MAKE_COMMAND}`, or train one (`translate train demo`) and pass --ckpt runs/demo_demo")


def is_bundled(path: str | Path) -> bool:
    """Whether ``path`` is the bundled checkpoint file itself (decided by location, never by content)."""
    try:
        return Path(path).resolve() == bundled_checkpoint().resolve()
    except OSError:
        return False


def resolve_checkpoint(text: str | Path, option: str = "--ckpt") -> Path:
    """What the user typed as a checkpoint: ``demo`` is the bundled file unless ./demo exists."""
    if str(text) != NAME:
        return Path(text)
    if Path(NAME).exists():
        log.warning("%s demo: using ./demo from the current folder; the bundled demo checkpoint is %s",
                    option, bundled_checkpoint())
        return Path(NAME)
    if not bundled_checkpoint().is_file():
        raise CheckpointError(f"{option} demo: {missing_message()}")
    return bundled_checkpoint()


def _variant_order(labels: dict, names: list[str]) -> list[str]:
    """testA names interleaved by variant (0, 1, 2, 0, 1, 2 ...), so the first few show every mode."""
    by_variant: dict[int, list[str]] = {}
    for name in names:
        by_variant.setdefault(int(labels.get(name, 0)), []).append(name)
    columns = [by_variant[k] for k in sorted(by_variant)]
    return [col[i] for i in range(max(map(len, columns), default=0)) for col in columns if i < len(col)]


def demo_test_images(cfg, n: int = 8) -> list[Path]:
    """Up to ``n`` testA images of the bundled checkpoint's synthetic set, every variant in the first few.

    Generates the set (offline, deterministic, seconds) when it is not cached: call this only for the
    bundled checkpoint, whose config ships with the package.
    """
    from translate.datasets.synthetic import ensure_synthetic

    root = ensure_synthetic(cfg.data.synthetic)
    labels = json.loads((root / "labels.json").read_text()).get("testA", {})
    names = sorted(p.name for p in (root / "testA").glob("*.png"))
    return [root / "testA" / name for name in _variant_order(labels, names)[:n]]
