"""Unpaired datasets: folders, the synthetic demo set, transforms and the named zoo."""

if __name__ != "translate.datasets":  # e.g. `import datasets` from the repository root: the folder under a bare name
    raise ImportError(f"datasets/ is installed as translate.datasets; import translate.datasets, not {__name__}")
