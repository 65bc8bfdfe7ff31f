"""YAML presets, installed as translate.configs: cut, fastcut, coop_cut, coop_fastcut, demo, coop_demo, smoke."""
