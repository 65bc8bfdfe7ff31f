"""translate.app: a Gradio web demo for trying checkpoints (build_demo without launching, and a launcher)."""
from translate.app.launch import launch_demo
from translate.app.predict import Limits, Translator
from translate.app.ui import build_demo

__all__ = ["Limits", "Translator", "build_demo", "launch_demo"]
