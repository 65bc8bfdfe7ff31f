"""Networks, losses and training objectives: CUT/FastCUT and the CoopInit stage."""

if __name__ != "translate.models":  # e.g. `import models` from the repository root: the folder under a bare name
    raise ImportError(f"models/ is installed as translate.models; import translate.models, not {__name__}")
