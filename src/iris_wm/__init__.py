"""iris-wm: sample-efficient world-model agents (IRIS, Delta-IRIS, LM world models) in PyTorch.

Public API::

    import iris_wm
    agent = iris_wm.create_model("iris", num_actions=6)        # paper config, random weights
    agent = iris_wm.load_agent("path/to/checkpoint-or-last.pt")  # ours or the authors'
    iris_wm.save_agent(agent, "out/")
    envs = agent.as_vector_env("path/to/run", num_envs=16)        # its world model, a gymnasium VectorEnv

Heavy modules are imported on first use so that ``import iris_wm`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "create_model": "iris_wm.agents",
    "agent_config": "iris_wm.agents",
    "register_agent_kind": "iris_wm.agents",
    "AgentKind": "iris_wm.agents",
    "Agent": "iris_wm.agents.base",
    "IRISAgent": "iris_wm.agents.iris.agent",
    "IRISConfig": "iris_wm.agents.iris.config",
    "TokenizerConfig": "iris_wm.agents.iris.tokenizer",
    "AutoencoderConfig": "iris_wm.agents.iris.autoencoder",
    "TransformerConfig": "iris_wm.models.transformer",
    "ActorCriticConfig": "iris_wm.agents.iris.actor_critic",
    "ActorCriticLossConfig": "iris_wm.agents.iris.actor_critic",
    "load_agent": "iris_wm.checkpoint",
    "save_agent": "iris_wm.checkpoint",
    "IrisError": "iris_wm.errors",
    "WorldModelVectorEnv": "iris_wm.world_model_env",
    "WorldModelEnv": "iris_wm.world_model_env",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'iris_wm' has no attribute {name!r}")
