"""Evaluation metrics: FID/KID math, feature extractors, content preservation, and the evaluation API.

``evaluate_translator(G, root, ...)`` is what ``translate eval``, the training hook and benchmarks call.
The public names load on first use (PEP 562), so that the CLI can import ``translate.metrics.registry`` (the
metric names) without importing torch.
"""
import importlib

_EXPORTS = {
    "Evaluator": "translate.metrics.evaluate", "evaluate_translator": "translate.metrics.evaluate",
    "EXTRACTORS": "translate.metrics.features", "FeatureExtractor": "translate.metrics.features",
    "build_extractor": "translate.metrics.features",
    "fid_from_features": "translate.metrics.fid", "kid_from_features": "translate.metrics.fid",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'translate.metrics' has no attribute {name!r}")
