"""Names of the metrics and feature extractors, importable without torch (for the CLI's argument parser).

The metrics themselves are registered in translate/metrics/registry.py; these are its names.
"""
from translate.config import Features, choices
from translate.metrics.registry import ALL_METRICS, DEFAULT_METRICS  # noqa: F401

EXTRACTOR_NAMES = choices(Features)  # eval.features' Literal is the one list (the keys of features.EXTRACTORS)
