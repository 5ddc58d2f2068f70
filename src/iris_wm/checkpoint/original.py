"""The authors' checkpoints (a ``last.pt`` state dict): read without running code from the file,
and loaded by the agent kind whose format it is."""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iris_wm.agents import AGENT_KINDS, Agent, AgentKind
from iris_wm.devices import resolve_device
from iris_wm.errors import IrisError


def read_original_state_dict(path: str | Path) -> OrderedDict[str, Tensor]:
    """Load ``last.pt`` without unpickling arbitrary objects (``weights_only=True``)."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = str(error).splitlines()[0] if str(error) else "it needs arbitrary unpickling"
        raise IrisError(f"refused to load {path}: it is not a plain tensor state dict ({reason[:160]}); "
                        f"nothing from it was executed. Re-save it as a state dict of tensors") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise IrisError(f"{path} is corrupt or truncated ({str(error).splitlines()[0][:160]}); "
                        f"download or copy it again") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise IrisError(f"{path} is not a state dict of tensors; expected the authors' checkpoints/last.pt")
    return OrderedDict(state)




def original_kind(state: Mapping[str, Tensor], source: Path | str) -> AgentKind:
    """The agent kind whose authors' format ``state`` is in."""
    known = [kind for kind in AGENT_KINDS.records().values() if kind.original is not None]
    for kind in known:
        if kind.original.recognizes(state):
            return kind
    raise IrisError(f"{source} is not a checkpoint of the authors of any known agent kind "
                    f"({', '.join(k.name for k in known)}); give their checkpoints/last.pt")


def load_original_agent(path: str | Path, device: str | torch.device = "auto",
                        config: Mapping[str, Any] | None = None, kind: str | None = None) -> Agent:
    """The authors' ``last.pt`` as an iris-wm agent (paper config unless ``config`` says otherwise).
    ``kind`` insists on one kind's format; by default the file's keys tell."""
    state = read_original_state_dict(path)
    record = original_kind(state, path)
    if kind is not None and record.name != kind:
        raise IrisError(f"{path} is an authors' {record.name} checkpoint, not {kind}; convert it as {record.name}")
    return record.original.load(state, path, config).to(resolve_device(device))
