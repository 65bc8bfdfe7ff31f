"""translate.app: a Gradio web demo for trying checkpoints (build_demo without launching, and a launcher)."""

if __name__ != "translate.app":  # e.g. `import app` from the repository root: the folder under a bare name
    raise ImportError(f"app/ is installed as translate.app; import translate.app, not {__name__}")

from translate.app.launch import launch_demo
from translate.app.predict import Limits, DemoService
from translate.app.ui import build_demo

__all__ = ["Limits", "DemoService", "build_demo", "launch_demo"]
