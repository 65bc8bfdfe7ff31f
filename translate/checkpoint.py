"""Compatibility names for the checkpoint functions, which live in translate/runfolder/ (the run-folder module).

``from translate.checkpoint import load_translator`` keeps working; new code imports from
translate.runfolder.schema (the schema: save, load, read info) and translate.runfolder.translator (G, D and
the refiner rebuilt from a checkpoint).
"""
from translate.runfolder.schema import (FORMAT, CheckpointInfo, capture_rng, checkpoint_config,  # noqa: F401
                                        load_checkpoint, read_checkpoint_info, restore_rng, save_checkpoint)
from translate.runfolder.translator import load_translator  # noqa: F401
