"""The run folder and everything in it: layout and cache root (layout.py, torch-free), the checkpoint schema
(schema.py: save, load, read info, the training state) and rebuilding a translator and its refiner from a
checkpoint (translator.py). The trainer, apply, eval, report and the demo call these; none knows the schema.

Import the submodules (``translate.runfolder.layout`` ...): this file imports nothing, so the torch-free
layout stays torch-free.
"""
