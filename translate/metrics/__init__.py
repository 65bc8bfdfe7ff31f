"""Evaluation metrics: FID/KID math, feature extractors, content preservation, and the evaluation API.

``evaluate_translator(G, root, ...)`` is what ``translate eval``, the training hook and benchmarks call.
"""
from translate.metrics.evaluate import Evaluator, evaluate_translator
from translate.metrics.features import EXTRACTORS, FeatureExtractor, build_extractor
from translate.metrics.fid import fid_from_features, kid_from_features

__all__ = ["EXTRACTORS", "Evaluator", "FeatureExtractor", "build_extractor", "evaluate_translator",
           "fid_from_features", "kid_from_features"]
