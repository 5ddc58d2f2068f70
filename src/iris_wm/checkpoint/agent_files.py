"""iris-wm's agent checkpoint: a folder with ``agent.safetensors`` (weights) and ``agent.yaml``
(agent kind, number of actions, full config). No pickle: loading never runs code from the file.

``iris_wm.checkpoint.loading.load_agent`` also reads run folders and the authors' checkpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from iris_wm.agents import Agent, agent_config, create_model
from iris_wm.atomic import atomic_write, atomic_write_text
from iris_wm.config import config_to_dict
from iris_wm.devices import resolve_device
from iris_wm.errors import IrisError
from iris_wm.models.state_dict import load_state_strict

WEIGHTS_FILE = "agent.safetensors"
CONFIG_FILE = "agent.yaml"
FORMAT = "iris-wm-agent"
FORMAT_VERSION = 1


def save_agent(agent: Agent, directory: str | Path) -> Path:
    """Write the agent's weights and config into ``directory``; each file atomically."""
    directory = Path(directory)
    state = {name: tensor.detach().contiguous().cpu() for name, tensor in agent.state_dict().items()}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "kind": agent.kind}
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(state, tmp, metadata=metadata))
    description = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": agent.kind,
                   "num_actions": agent.num_actions, "config": config_to_dict(agent.config)}
    atomic_write_text(directory / CONFIG_FILE, yaml.safe_dump(description, sort_keys=False))
    return directory


def load_agent_folder(directory: Path, device: str | torch.device) -> Agent:
    description = _read_description(directory / CONFIG_FILE)
    kind, num_actions = description["kind"], description["num_actions"]
    agent = create_model(kind, num_actions, device="cpu", config=agent_config(kind, description["config"]))
    load_state_strict(agent, read_weights(directory / WEIGHTS_FILE), directory / WEIGHTS_FILE)
    return agent.to(resolve_device(device))


def read_weights(path: Path) -> dict[str, Tensor]:
    try:
        return load_file(path)
    except (SafetensorError, OSError) as error:
        raise IrisError(f"{path} is corrupt or truncated ({error}); restore it from a backup or an earlier "
                        f"checkpoint") from None


def _read_description(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise IrisError(f"{path} is missing; an iris-wm checkpoint folder needs {WEIGHTS_FILE} and {CONFIG_FILE}")
    try:
        description = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise IrisError(f"{path} is not valid YAML ({str(error).splitlines()[0]}); restore it from the run's "
                        f"config/ folder") from None
    required = ("format", "kind", "num_actions", "config")
    if not isinstance(description, dict) or any(key not in description for key in required):
        raise IrisError(f"{path} is not an iris-wm agent description (needs keys {', '.join(required)})")
    if description["format"] != FORMAT or int(description.get("format_version", 0)) > FORMAT_VERSION:
        raise IrisError(f"{path} has format {description['format']!r} v{description.get('format_version')}; "
                        f"this iris-wm reads {FORMAT!r} up to v{FORMAT_VERSION}: upgrade iris-wm")
    return description
