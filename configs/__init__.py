"""YAML presets, installed as translate.configs: cut, fastcut, coop_cut, demo, smoke."""
