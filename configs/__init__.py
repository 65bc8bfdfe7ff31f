"""YAML presets, installed as translate.configs: cut, fastcut, coop_cut, coop_fastcut, demo, coop_demo, demo_ref,
coop_demo_ref, santa_demo, smoke."""

if __name__ != "translate.configs":  # e.g. `import configs` from the repository root: the folder under a bare name
    raise ImportError(f"configs/ is installed as translate.configs; import translate.configs, not {__name__}")
