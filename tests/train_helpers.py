"""A trainer for the tests, built as ``translate train`` builds it: the config's data source resolved once,
then build_trainer (build_run's parts plus rank 0's evaluation hooks)."""
from translate.commands.train import build_trainer
from translate.datasets.sources import resolve_source


def make_trainer(cfg, run_dir, resume: bool = False):
    return build_trainer(resolve_source(cfg), run_dir, resume=resume)
