"""IRIS with a pretrained causal language model as its world model (``agent=iris-lm``)."""

from pathlib import Path

from iris_wm.agents import AgentKind, register_agent_kind
from iris_wm.agents.iris_lm.agent import IRISLMAgent, check_config
from iris_wm.agents.iris_lm.config import IRISLMConfig, IRISLMTraining

register_agent_kind(AgentKind(
    name="iris-lm",
    description="IRIS with a Hugging Face causal LM (LoRA, full or frozen) as the world model's sequence model",
    config_class=IRISLMConfig,
    training_class=IRISLMTraining,
    build=IRISLMAgent,
    presets=Path(__file__).parent / "presets",
    check=check_config,
))
