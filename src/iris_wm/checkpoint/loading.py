"""``load_agent``: an agent from whatever path a user has: an iris-wm checkpoint folder, a run
folder, the authors' ``last.pt``, or any of these files on the Hugging Face Hub (``hf://...``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from iris_wm.agents import Agent
from iris_wm.checkpoint.agent_files import CONFIG_FILE, WEIGHTS_FILE, load_agent_folder
from iris_wm.checkpoint.hub import download, is_hub_reference
from iris_wm.checkpoint.original import load_original_agent
from iris_wm.checkpoint.run_checkpoint import latest_checkpoint
from iris_wm.errors import IrisError
from iris_wm.run_folder import RunFolder


def load_agent(path: str | Path, device: str | torch.device = "auto",
               config: Mapping[str, Any] | None = None) -> Agent:
    """An agent from one of: an iris-wm checkpoint folder (or its ``agent.safetensors``), a run
    folder, or the authors' ``last.pt`` of any registered kind (converted on the fly; ``config``
    overrides apply to it); or ``hf://OWNER/REPO/FILE[@REVISION]``, one of these files on the hub."""
    path = download(path) if is_hub_reference(path) else Path(path)
    if not path.exists():
        raise IrisError(f"checkpoint not found: {path}; give a checkpoint folder, a run folder or a last.pt file")
    if path.is_file() and path.suffix == ".pt":
        return load_original_agent(path, device, config)
    directory = path.parent if path.is_file() else path
    run = RunFolder(directory)  # if it is one
    for candidate in (directory, run.checkpoints, latest_checkpoint(run)):
        if candidate is not None and (candidate / WEIGHTS_FILE).is_file():
            return load_agent_folder(candidate, device)
    if run.authors_checkpoint.is_file():
        return load_original_agent(run.authors_checkpoint, device, config)
    raise IrisError(f"no agent checkpoint in {path}: expected {WEIGHTS_FILE} + {CONFIG_FILE} "
                    f"(iris-wm), checkpoints/ of a run folder, or the authors' last.pt")
