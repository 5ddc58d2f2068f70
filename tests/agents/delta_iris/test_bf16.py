"""``training.bf16_autocast``: ``auto`` trains the tokenizer and the world model in float32 on a CPU
(where bf16 is about ten times slower) and in bf16 on CUDA; ``on`` is refused without CUDA; ``off``
is float32 everywhere. Observed on the outputs of their layers during the phases' own losses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iris_wm.agents.delta_iris.config import DeltaIRISTraining
from iris_wm.config import build_config
from iris_wm.errors import IrisError
from tests.agents.delta_iris.tiny import make_batch

LAYERS = (nn.Linear, nn.Conv2d)


def layer_dtypes(agent, setting: str) -> dict[str, set[torch.dtype]]:
    """Phase name -> the dtypes the tokenizer's and world model's layers computed in its loss."""
    phases = agent.phases(build_config(DeltaIRISTraining, {"bf16_autocast": setting}))
    seen: set[torch.dtype] = set()
    hooks = [layer.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
             for component in (agent.tokenizer, agent.world_model)
             for layer in component.modules() if isinstance(layer, LAYERS)]
    found = {}
    try:
        for phase in phases[:2]:  # the tokenizer's and the world model's
            seen.clear()
            with torch.no_grad():
                phase.loss(make_batch(2, 3).to(agent.device))
            found[phase.name] = set(seen)
    finally:
        for hook in hooks:
            hook.remove()
    return found


@pytest.mark.parametrize("setting", ["auto", "off"])
def test_float32_on_a_cpu(agent, setting):
    assert layer_dtypes(agent, setting) == {"tokenizer": {torch.float32}, "world_model": {torch.float32}}


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there")
def test_on_without_cuda_is_one_line_naming_the_fix(agent):
    with pytest.raises(IrisError) as error:
        agent.phases(build_config(DeltaIRISTraining, {"bf16_autocast": "on"}))
    message = str(error.value)
    assert "\n" not in message and "training.bf16_autocast=on needs a CUDA device" in message
    assert "agent is on cpu" in message and "training.bf16_autocast=auto" in message


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_on_cuda_by_default(agent):
    import copy

    on_cuda = copy.deepcopy(agent).to("cuda")
    assert layer_dtypes(on_cuda, "auto") == {"tokenizer": {torch.bfloat16}, "world_model": {torch.bfloat16}}
    assert layer_dtypes(on_cuda, "off") == {"tokenizer": {torch.float32}, "world_model": {torch.float32}}
