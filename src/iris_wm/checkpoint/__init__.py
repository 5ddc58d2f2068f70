"""Checkpoints: iris-wm's own format (safetensors + YAML), run checkpoints, the authors' ``last.pt``."""

from iris_wm.checkpoint.agent_files import save_agent
from iris_wm.checkpoint.loading import load_agent

__all__ = ["load_agent", "save_agent"]
