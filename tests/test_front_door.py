"""TorchWM's spellings: ``iris train iris --env ALE/Pong-v5 --device cpu`` and
``create_model("iris", action_size=4)``."""

import pytest
import torch
import yaml

import iris_wm
from iris_wm.cli import main
from iris_wm.cli_arguments import translate_train_arguments
from iris_wm.errors import IrisError
from tests.factories import tiny_iris_config, tiny_train_overrides


def test_torchwm_train_arguments_are_our_overrides():
    assert translate_train_arguments(["iris", "--env", "ALE/Pong-v5", "--device=cuda", "common.epochs=3"]) == [
        "agent=iris", "env.id=ALE/Pong-v5", "common.device=cuda", "common.epochs=3"]
    assert translate_train_arguments(["--env", "crafter", "--seed", "2"]) == ["env=crafter", "common.seed=2"]
    with pytest.raises(IrisError, match="--env needs a value"):
        translate_train_arguments(["iris", "--env"])


def test_env_names_a_family_a_family_s_game_or_any_family_s_game():
    from iris_wm.cli_arguments import env_choice

    assert env_choice("crafter") == ("crafter", None) and env_choice("ALE/Pong-v5") == ("atari", "ALE/Pong-v5")
    assert env_choice("gym:CartPole-v1") == ("gym", "CartPole-v1")
    assert env_choice("MiniGrid-Empty-5x5-v0") == ("gym", "MiniGrid-Empty-5x5-v0")  # no Atari game: gym's
    assert env_choice("Pongg") == ("atari", "Pongg")  # no family's: the default family says what is wrong
    assert translate_train_arguments(["--env", "MiniGrid-Empty-5x5-v0"]) == ["env=gym", "env.id=MiniGrid-Empty-5x5-v0"]


def test_iris_train_iris_env_device_trains_with_hydra_overrides_beside(tmp_path):
    pytest.importorskip("ale_py")
    run_dir = tmp_path / "run"
    overrides = [o for o in tiny_train_overrides(run_dir, epochs=1) if not o.startswith("env.id=")]
    assert main(["train", "iris", "--env", "ALE/Breakout-v5", "--device", "cpu", *overrides]) == 0
    config = yaml.safe_load((run_dir / "config" / "train.yaml").read_text())
    assert (config["agent"]["kind"], config["env"]["id"], config["common"]["device"]) == ("iris", "ALE/Breakout-v5",
                                                                                         "cpu")
    assert config["common"]["epochs"] == 1 and (run_dir / "checkpoints" / "epoch_0001").is_dir()


def test_create_model_takes_torchwm_action_size():
    agent = iris_wm.create_model("iris", action_size=4, device=torch.device("cpu"), config=tiny_iris_config())
    agent.reset_policy(n=2)
    assert agent.num_actions == 4 and agent.act(torch.rand(2, 3, 64, 64)).shape == (2,)
    with pytest.raises(IrisError, match="num_actions=4 and action_size=6 name the same number"):
        iris_wm.create_model("iris", num_actions=4, action_size=6)


def test_benchmark_with_a_checkpoint_evaluates_it_over_the_seeds_as_torchwm(tmp_path, capsys):
    pytest.importorskip("ale_py")
    import json

    agent = iris_wm.create_model("iris", action_size=6, device="cpu", config=tiny_iris_config())
    folder = iris_wm.save_agent(agent, tmp_path / "agent")
    sweep = tmp_path / "sweep"
    assert main(["benchmark", "--agent", "iris", "--game", "ALE/Pong-v5", "--checkpoint", str(folder), "--seeds", "2",
                 "--out", str(sweep), "--eval-episodes", "1", "--eval-envs", "1", "--report-reps", "100",
                 "env.test.max_episode_steps=100"]) == 0
    scores = json.loads((sweep / "scores.json").read_text())
    assert list(scores) == ["Pong"] and len(scores["Pong"]) == 2
    assert json.loads((sweep / "scores_details.json").read_text())["checkpoint"] == str(folder.resolve())
    for seed in (0, 1):  # one evaluation per seed, nothing trained
        run = sweep / "runs" / "Pong" / f"seed_{seed}"
        details = json.loads((run / "eval" / "benchmark.json").read_text())["details"]
        assert (details["seed"], details["checkpoint"], details["episodes"]) == (seed, str(folder.resolve()), 1)
        assert not (run / "checkpoints").exists()
    assert "2 of 2 runs finished" in capsys.readouterr().out
