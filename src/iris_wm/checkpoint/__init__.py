"""Checkpoints: iris-wm's own format (safetensors + YAML) and the authors' ``last.pt``."""

from iris_wm.checkpoint.agent_files import load_agent, save_agent

__all__ = ["load_agent", "save_agent"]
