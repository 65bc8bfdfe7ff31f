"""The run folder and everything in it: its layout (layout.py, torch-free), getting it ready (prepare.py), the
checkpoint schema (schema.py: save, load, read info, the training state), rebuilding a translator and its refiner
from a checkpoint (translator.py) and the bundled demo checkpoint (bundled.py). The trainer, apply, eval, report
and the demo call these; none knows the schema. (The cache root, for datasets and weights, is translate/paths.py.)

Import the submodules (``translate.runfolder.layout`` ...): this file imports nothing, so the torch-free
layout stays torch-free.
"""
