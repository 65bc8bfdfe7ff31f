"""Feature extractors for FID/KID behind one interface, and the registry that builds them by name.

An extractor is any callable mapping (N, 3, H, W) images in [-1, 1] to an (N, D) float tensor, with a
``name`` (shown next to every figure it produced) and a ``cache_id`` (changes whenever its features would:
it keys the cached reference features). Tests and offline runs inject their own; ``build_extractor``
knows ``inception`` (clean-fid, needs a weight file) and ``tiny`` (offline, see tiny.py).
"""
from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import torch

from translate.errors import TranslateError


@runtime_checkable
class FeatureExtractor(Protocol):
    name: str  # shown with every figure: "inception", "tiny", ...
    cache_id: str  # identifies the exact features (network + version + preprocessing) for caching

    def __call__(self, images: torch.Tensor) -> torch.Tensor:  # (N, 3, H, W) in [-1, 1] -> (N, D)
        ...


# What each name means, written into JSON and tables so that a number is never read as something else.
DESCRIPTIONS = {
    "inception": "Inception-v3 pool features via clean-fid (clean mode): comparable with published FID/KID",
    "tiny": "offline features of a fixed random CNN (seeded, no training, no download): NOT Inception; "
            "compare these FID/KID only with other 'tiny' figures",
}


def _build_inception(device: torch.device) -> FeatureExtractor:
    from translate.metrics.inception import InceptionFeatures

    return InceptionFeatures(device)


def _build_tiny(device: torch.device) -> FeatureExtractor:
    from translate.metrics.tiny import TinyFeatures

    return TinyFeatures(device)


EXTRACTORS: dict[str, Callable[[torch.device], FeatureExtractor]] = {
    "inception": _build_inception,
    "tiny": _build_tiny,
}


def build_extractor(features: str | FeatureExtractor, device: str | torch.device = "cpu") -> FeatureExtractor:
    """The extractor named ``features`` on ``device``; an extractor object is returned unchanged."""
    if not isinstance(features, str):
        if not callable(features) or not getattr(features, "name", None):
            raise TypeError("a feature extractor must be callable and have a 'name' attribute")
        return features
    if features not in EXTRACTORS:
        raise TranslateError(f"unknown feature extractor {features!r} for --features / eval.features "
                             f"(expected one of: {', '.join(EXTRACTORS)})")
    return EXTRACTORS[features](torch.device(device))


def describe(extractor: FeatureExtractor) -> str:
    return DESCRIPTIONS.get(extractor.name, getattr(extractor, "description", f"custom extractor {extractor.name!r}"))
