import pytest
import torch

import iris_wm
from iris_wm.cli import main
from iris_wm.errors import IrisError
from tests.factories import tiny_iris_config


def test_create_model_builds_the_papers_networks_by_default():
    agent = iris_wm.create_model("iris", num_actions=4, device="cpu")
    counts = {name: sum(p.numel() for p in getattr(agent, name).parameters())
              for name in ("tokenizer", "world_model", "actor_critic")}
    assert counts == {"tokenizer": 4_027_523, "world_model": 8_447_493, "actor_critic": 3_217_957}  # the authors'
    assert isinstance(agent.config, iris_wm.IRISConfig) and agent.device == torch.device("cpu")


@pytest.mark.parametrize("batch", [1, 4])
def test_act_returns_one_valid_action_per_frame_and_advances_the_lstm(batch):
    agent = iris_wm.create_model("iris", num_actions=7, device="cpu", config=tiny_iris_config()).eval()
    agent.actor_critic.reset(batch)
    obs = torch.rand(batch, 3, 64, 64)
    actions = agent.act(obs)
    assert actions.shape == (batch,) and actions.dtype == torch.long
    assert ((actions >= 0) & (actions < 7)).all()
    hx = agent.actor_critic.hx.clone()
    agent.act(obs)
    assert not torch.equal(agent.actor_critic.hx, hx)  # the LSTM state moved on
    # greedy acting = argmax of the actor's logits on the tokenizer's reconstruction of the frame
    agent.actor_critic.reset(batch)
    with torch.no_grad():
        reconstruction = agent.tokenizer.encode_decode(obs, True, True).clamp(0, 1)
        expected = agent.actor_critic(reconstruction).logits[:, -1].argmax(-1)
    agent.actor_critic.reset(batch)
    assert torch.equal(agent.act(obs, should_sample=False), expected)


def test_low_temperature_sampling_approaches_the_greedy_action():
    agent = iris_wm.create_model("iris", num_actions=3, device="cpu", config=tiny_iris_config()).eval()
    with torch.no_grad():
        agent.actor_critic.actor_linear.bias.copy_(torch.tensor([0.0, 0.5, 0.0]))
    obs = torch.rand(64, 3, 64, 64)
    agent.actor_critic.reset(64)
    sampled = agent.act(obs, temperature=1e-3)
    agent.actor_critic.reset(64)
    greedy = agent.act(obs, should_sample=False)
    assert torch.equal(sampled, greedy)


@pytest.mark.parametrize(("config", "message"), [
    ({"tokenizer": {"vocab_sise": 3}}, "vocab_sise"),
    ({"world_model": {"num_layers": "many"}}, "num_layers"),
    ({"world_model": {"attention": "sideways"}}, "sideways"),
])
def test_bad_config_is_one_clear_error(config, message):
    with pytest.raises(IrisError, match=message):
        iris_wm.create_model("iris", num_actions=4, config=config)


def test_bad_kind_actions_or_device_are_clear_errors():
    with pytest.raises(IrisError, match="unknown agent kind 'dreamer'"):
        iris_wm.create_model("dreamer", num_actions=4)
    with pytest.raises(IrisError, match="num_actions"):
        iris_wm.create_model("iris", num_actions=0)
    with pytest.raises(IrisError, match="device"):
        iris_wm.create_model("iris", num_actions=4, device="tpu")


def test_cli_help_and_info(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "device auto" in out and "atari" in out
