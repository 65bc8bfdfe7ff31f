"""Names of the metrics and feature extractors, importable without torch (for the CLI's argument parser)."""

ALL_METRICS = ("fid", "kid", "lpips", "gt", "modes")  # gt and modes are skipped where the dataset lacks them
DEFAULT_METRICS = ("fid", "kid", "gt", "modes")  # lpips needs a pretrained backbone: ask for it explicitly
EXTRACTOR_NAMES = ("inception", "tiny")  # keys of translate.metrics.features.EXTRACTORS
