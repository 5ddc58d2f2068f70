import pytest
import torch
import yaml

import iris_wm
from iris_wm.atomic import atomic_write
from iris_wm.errors import IrisError
from tests.factories import tiny_iris_config


@pytest.fixture
def agent():
    return iris_wm.create_model("iris", num_actions=5, device="cpu", config=tiny_iris_config())


def test_save_then_load_restores_every_tensor_and_the_config(tmp_path, agent):
    iris_wm.save_agent(agent, tmp_path / "ckpt")
    loaded = iris_wm.load_agent(tmp_path / "ckpt", device="cpu")
    assert loaded.num_actions == 5 and loaded.config == agent.config
    for key, tensor in agent.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    # the weights file alone, and a run folder's checkpoints/, are accepted too
    assert iris_wm.load_agent(tmp_path / "ckpt" / "agent.safetensors", device="cpu").num_actions == 5
    iris_wm.save_agent(agent, tmp_path / "run" / "checkpoints")
    assert iris_wm.load_agent(tmp_path / "run", device="cpu").num_actions == 5


def test_loaded_agent_acts_like_the_saved_one(tmp_path, agent):
    iris_wm.save_agent(agent, tmp_path)
    loaded = iris_wm.load_agent(tmp_path, device="cpu")
    obs = torch.rand(3, 3, 64, 64)
    for model in (agent, loaded):
        model.eval().actor_critic.reset(3)
    torch.manual_seed(1)
    a = agent.act(obs, should_sample=False)
    torch.manual_seed(1)
    b = loaded.act(obs, should_sample=False)
    assert torch.equal(a, b)


def test_a_truncated_weights_file_is_reported(tmp_path, agent):
    iris_wm.save_agent(agent, tmp_path)
    weights = tmp_path / "agent.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(IrisError, match="corrupt or truncated"):
        iris_wm.load_agent(tmp_path, device="cpu")


def test_a_missing_or_foreign_description_is_reported(tmp_path, agent):
    iris_wm.save_agent(agent, tmp_path)
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump({"hello": 1}))
    with pytest.raises(IrisError, match="not an iris-wm agent description"):
        iris_wm.load_agent(tmp_path, device="cpu")
    (tmp_path / "agent.yaml").unlink()
    with pytest.raises(IrisError, match="agent.yaml is missing"):
        iris_wm.load_agent(tmp_path, device="cpu")


def test_weights_of_a_differently_configured_model_name_the_first_bad_key(tmp_path, agent):
    iris_wm.save_agent(agent, tmp_path)
    description = yaml.safe_load((tmp_path / "agent.yaml").read_text())
    description["config"]["world_model"]["embed_dim"] = 64
    (tmp_path / "agent.yaml").write_text(yaml.safe_dump(description))
    with pytest.raises(IrisError, match="world_model.transformer.pos_emb.weight' has shape"):
        iris_wm.load_agent(tmp_path, device="cpu")


def test_nothing_there_is_reported(tmp_path):
    with pytest.raises(IrisError, match="checkpoint not found"):
        iris_wm.load_agent(tmp_path / "nope")
    with pytest.raises(IrisError, match="no agent checkpoint"):
        iris_wm.load_agent(tmp_path)


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path):
    target = tmp_path / "file.bin"
    target.write_bytes(b"previous")

    def failing_write(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(IrisError, match="No space left on device"):
        atomic_write(target, failing_write)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]  # no temporary file left behind
