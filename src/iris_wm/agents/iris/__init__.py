"""IRIS (Micheli, Alonso & Fleuret, ICLR 2023) as an agent kind: ``agent=iris``, the default."""

from pathlib import Path

from iris_wm.agents import AgentKind, OriginalFormat, PretrainedAgent, register_agent_kind
from iris_wm.agents.iris.agent import IRISAgent
from iris_wm.agents.iris.config import IRISConfig, IRISTraining
from iris_wm.agents.iris.original import describe_import, is_original_iris, load_original_state
from iris_wm.games import ATARI_100K_GAMES

# The authors' agents, one per Atari 100k game (their README's "Pretrained models").
PUBLISHED = tuple(PretrainedAgent("atari", game, f"hf://eloialonso/iris/pretrained_models/{game}.pt")
                  for game in ATARI_100K_GAMES)

register_agent_kind(AgentKind(
    name="iris",
    description="IRIS: VQ tokenizer (16 tokens per frame), GPT world model, actor-critic in imagination",
    config_class=IRISConfig,
    training_class=IRISTraining,
    build=IRISAgent,
    presets=Path(__file__).parent / "presets",
    original=OriginalFormat(recognizes=is_original_iris, load=load_original_state, describe=describe_import),
    pretrained=PUBLISHED,
))
