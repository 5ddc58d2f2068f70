"""Δ-IRIS (Micheli, Alonso & Fleuret, ICML 2024) as an agent kind: ``agent=delta-iris``."""

from pathlib import Path

from iris_wm.agents import AgentKind, OriginalFormat, PretrainedAgent, register_agent_kind
from iris_wm.agents.delta_iris.agent import DeltaIRISAgent
from iris_wm.agents.delta_iris.config import DeltaIRISConfig, DeltaIRISTraining
from iris_wm.agents.delta_iris.original import describe_import, is_original_delta_iris, load_original_state

# The authors' published Crafter agent (5M frames), pinned to the revision that holds it.
PUBLISHED = (PretrainedAgent("crafter", "Crafter",
                             "hf://vmicheli/delta-iris/last.pt@ded10a5a17b1d2433115961b2fd5813db07316ee"),)

register_agent_kind(AgentKind(
    name="delta-iris",
    description="Δ-IRIS: Δ-tokenizer of transitions (4 tokens), I-token GPT world model, actor-critic with EMA target",
    config_class=DeltaIRISConfig,
    training_class=DeltaIRISTraining,
    build=DeltaIRISAgent,
    presets=Path(__file__).parent / "presets",
    default_preset="delta-atari",
    original=OriginalFormat(recognizes=is_original_delta_iris, load=load_original_state, describe=describe_import),
    pretrained=PUBLISHED,
    eval_temperature=1.0,  # the authors' test collector samples at temperature 1 (IRIS's: 0.5)
))
