"""Warm starts: ``initialization.path_to_checkpoint`` with ``load_<phase>`` per training phase."""

import pytest
import torch
from safetensors.torch import load_file

import iris_wm
from iris_wm.cli import main
from iris_wm.training.compose import compose_config
from tests.factories import tiny_train_overrides

pytest.importorskip("ale_py")

# no phase trains in the one epoch: the run's checkpoint holds the weights it started from
FROZEN = {f"training.{phase}.start_after_epochs": 1 for phase in ("tokenizer", "world_model", "actor_critic")}


def source_agent(tmp_path, **agent_overrides):
    """An agent of the run's networks (or of others), saved in our format."""
    config = compose_config([o for o in tiny_train_overrides(tmp_path / "unused") if not o.startswith("hydra.")]
                            + [f"{key}={value}" for key, value in agent_overrides.items()])
    torch.manual_seed(1)  # initialised otherwise than the run (seed 0) will be
    agent = iris_wm.create_model("iris", num_actions=4, device="cpu", config=config.agent)
    return agent, iris_wm.save_agent(agent, tmp_path / "source")


def test_a_warm_start_loads_the_chosen_components_and_leaves_the_others(tmp_path, capsys):
    agent, folder = source_agent(tmp_path)
    run_dir = tmp_path / "run"
    overrides = tiny_train_overrides(run_dir, epochs=1, **FROZEN, **{
        "initialization.path_to_checkpoint": folder, "initialization.load_tokenizer": "true",
        "initialization.load_world_model": "true", "initialization.load_actor_critic": "false"})
    assert main(["train", *overrides]) == 0
    out = capsys.readouterr().out
    assert f"warm start: the tokenizer from {folder}" in out and "warm start: the world_model" in out
    weights = load_file(run_dir / "checkpoints" / "epoch_0001" / "agent.safetensors")
    source = agent.state_dict()
    for key, tensor in weights.items():
        component = key.split(".")[0]
        assert torch.equal(tensor, source[key]) == (component != "actor_critic"), key


def test_a_shape_mismatch_names_the_component_and_the_config_key(tmp_path, capsys):
    _, folder = source_agent(tmp_path, **{"agent.world_model.embed_dim": 32})
    overrides = tiny_train_overrides(tmp_path / "run", epochs=1, **{
        "initialization.path_to_checkpoint": folder, "initialization.load_world_model": "true"})
    assert main(["train", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "the world_model's" in err and "agent.world_model.embed_dim differs (32 there, 64 here)" in err
    assert not (tmp_path / "run").exists()


def test_a_delta_iris_warm_start_brings_the_target_critic_with_the_actor_critic(tmp_path):
    from iris_wm.training.warm_start import warm_start
    from tests.factories import tiny_delta_overrides

    config = compose_config([o for o in tiny_delta_overrides(tmp_path / "unused") if not o.startswith("hydra.")])
    torch.manual_seed(1)
    source = iris_wm.create_model("delta-iris", num_actions=4, device="cpu", config=config.agent)
    source.actor_critic.target_model.lstm.bias_hh.data += 1.0  # a target that lags the online model
    path = iris_wm.save_agent(source, tmp_path / "source")
    torch.manual_seed(2)
    agent = iris_wm.create_model("delta-iris", num_actions=4, device="cpu", config=config.agent)
    section = {"path_to_checkpoint": str(path), "load_tokenizer": False, "load_world_model": False,
               "load_actor_critic": True}
    assert warm_start(agent, agent.phases(config.training), section) == ["actor_critic"]
    ours, theirs = agent.state_dict(), source.state_dict()
    assert all(torch.equal(ours[key], theirs[key]) for key in ours if key.startswith("actor_critic."))
    randomly_initialised = [key for key in ours if not key.startswith("actor_critic.")
                            and ours[key].is_floating_point() and ours[key].numel() > 1 and ours[key].std() > 0]
    assert randomly_initialised and not any(torch.equal(ours[key], theirs[key]) for key in randomly_initialised)
