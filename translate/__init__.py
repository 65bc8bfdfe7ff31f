"""translate: unpaired image-to-image translation (CUT, FastCUT, CoopInit) in PyTorch."""

__version__ = "0.1.0"
