"""The composed training config: the paper's protocol by default, config groups for the kinds,
tied keys, and what a resumed run restores."""

import pytest

from iris_wm.cli import main
from iris_wm.errors import IrisError

pytest.importorskip("ale_py")

from iris_wm.training.compose import compose_config  # noqa: E402


def test_the_defaults_are_the_papers_protocol():
    c = compose_config(["env.id=Pong"])
    assert (c.agent.kind, c.env.kind, c.env.id, c.common.epochs) == ("iris", "atari", "Pong", 600)
    train, test = c.env.train, c.env.test
    assert (train.max_episode_steps, train.noop_max, train.done_on_life_loss) == (20_000, 30, True)
    assert (test.max_episode_steps, test.noop_max, test.done_on_life_loss) == (108_000, 1, False)
    assert (train.size, train.frame_skip, test.size, test.frame_skip) == (64, 4, 64, 4)
    assert (train.id, test.id) == ("Pong", "Pong")
    collect = c.collection
    assert (collect.train.num_envs, collect.train.epsilon, collect.train.temperature, collect.train.num_steps,
            collect.train.stop_after_epochs) == (1, 0.01, 1.0, 200, 500)
    assert (collect.test.num_envs, collect.test.epsilon, collect.test.temperature, collect.test.num_episodes,
            collect.test.should_sample) == (8, 0.0, None, 16, True)  # None: the kind's test temperature, IRIS's 0.5
    loss = c.agent.actor_critic_loss
    assert (loss.gamma, loss.lambda_, loss.entropy_weight, loss.imagine_horizon, loss.burn_in) == (
        0.995, 0.95, 0.001, 20, 20)
    t = c.training
    phases = [(p.batch_num_samples, p.start_after_epochs, p.steps_per_epoch, p.max_grad_norm, p.weight_decay)
              for p in (t.tokenizer, t.world_model, t.actor_critic)]
    assert phases == [(256, 5, 200, 10.0, 0.0), (64, 25, 200, 10.0, 0.01), (64, 50, 200, 10.0, 0.0)]
    assert (t.learning_rate, c.evaluation.every) == (1e-4, 5)


def test_the_config_groups_name_the_kinds_and_presets_add_each_kinds_part():
    smoke = compose_config(["agent=iris", "env=atari", "env.id=Pong", "preset=cpu-smoke"])
    assert smoke.common.epochs == 6 and smoke.agent.world_model.num_layers == 2  # shared and IRIS parts
    assert smoke.env.test.max_episode_steps == 4000  # Atari's part
    with pytest.raises(IrisError, match="choose one of"):
        compose_config(["agent=dreamer", "env.id=Pong"])


@pytest.mark.parametrize(("override", "message"), [
    ("env.test.size=32", "env.test.size=32 differs from env.train.size=64"),
    ("env.test.frame_skip=2", "env.test.frame_skip=2 differs from env.train.frame_skip=4"),
    ("env.train.id=Breakout", "env.train.id=Breakout differs from env.id=Pong"),
    ("agent.actor_critic_loss.imagine_horizon=21", "exceeds the world model's context"),
    ("agent.tokenizer.perceptual_weights_path=random", "untrained VGG16"),
    ("training.should=false", "training.should was renamed training.enabled; write training.enabled=..."),
    ("+collection.path_to_static_dataset=x", "path_to_static_dataset was renamed collection.offline_dataset"),
])
def test_tied_and_refused_values_are_one_line_errors(override, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "env.id=Pong", override]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_a_tied_key_follows_unless_set():
    c = compose_config(["env.id=Pong", "env.train.size=32", "env.test.frame_skip=4"])
    assert (c.env.test.size, c.env.test.frame_skip) == (32, 4)


def test_a_resumed_run_keeps_the_datasets_ram_cap_and_episode_ids(tmp_path):
    from iris_wm.training.trainer import Trainer
    from tests.factories import tiny_train_overrides

    config = compose_config([o for o in tiny_train_overrides(tmp_path, epochs=1) if not o.startswith("hydra.")])
    trainer = Trainer(config, tmp_path)
    trainer.train_dataset.step_cap = 123
    trainer.test_dataset.num_seen_episodes = 7
    trainer.train_collector.epoch = 1  # collected in epoch 1
    trainer.state.save(1)
    resumed = Trainer(config, tmp_path, resume=True)
    assert resumed.start_epoch == 2
    assert resumed.train_dataset.step_cap == 123 and resumed.test_dataset.num_seen_episodes == 7
    # the envs restart with a new seed, so that the resumed run does not replay its first episodes
    assert resumed.train_collector.seed == trainer.train_collector.seed + 1_000


def test_every_preset_composes_for_each_kind_it_has_a_part_for():
    """A preset's parts (shared, agent kinds', env families') fit together, e.g. preset=learn-minigrid."""
    from pathlib import Path

    import iris_wm
    from iris_wm.training.compose import preset_parts

    shared = Path(iris_wm.__file__).parent / "config" / "preset"
    for preset in sorted(path.stem for path in shared.glob("*.yaml")):
        parts = preset_parts(preset)
        for agent in parts["agent"] or {"iris"}:
            for env in parts["env"] or {"atari"}:
                game = ["env.id=Pong"] if env == "atari" else []
                try:
                    config = compose_config([f"agent={agent}", f"env={env}", f"preset={preset}", *game])
                except IrisError as error:  # a value the user must give (the LM of iris-lm's paper preset)
                    assert "is required" in str(error), (preset, agent, env, error)
                    continue
                assert config.agent.kind == agent and config.env.kind == env, preset


def test_a_component_may_have_its_own_learning_rate(tmp_path):
    from iris_wm.training.trainer import Trainer
    from tests.factories import tiny_train_overrides

    overrides = tiny_train_overrides(tmp_path, epochs=1, **{"training.learning_rate": 1e-3,
                                                           "training.actor_critic.learning_rate": 3e-4})
    trainer = Trainer(compose_config([o for o in overrides if not o.startswith("hydra.")]), tmp_path)
    rates = {name: optimizer.param_groups[0]["lr"] for name, optimizer in trainer.optimizers.items()}
    assert rates == {"tokenizer": 1e-3, "world_model": 1e-3, "actor_critic": 3e-4}


def test_cfg_job_prints_the_composed_config_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import yaml

    from iris_wm.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "env.id=Pong", "preset=cpu-smoke", "--cfg", "job"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert (shown["agent"]["kind"], shown["env"]["id"], shown["common"]["epochs"]) == ("iris", "Pong", 6)
    assert main(["train", "--cfg", "job", "agent=delta-iris", "env.id=Pong"]) == 0  # before the overrides too
    assert yaml.safe_load(capsys.readouterr().out)["agent"]["kind"] == "delta-iris"
    assert main(["train", "env.id=Pong", "common.seed=0,1", "--cfg", "job"]) == 2  # one job's config, not a sweep's
    assert not any(tmp_path.iterdir())


def test_help_config_lists_every_key_with_its_value_range_and_comment(tmp_path, monkeypatch, capsys):
    from iris_wm.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "env.id=Pong", "--help-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.startswith("training.learning_rate = "))
    assert "0.0001" in line and "[positive]" in line and "# every component's" in line
    # a comment written on the lines above its field
    perceptual = next(line for line in lines if line.startswith("agent.tokenizer.perceptual_dropout_in_train = "))
    assert "# The authors train with LPIPS's dropout active" in perceptual
    assert len(lines) > 100 and not any(tmp_path.iterdir())


def test_train_help_lists_the_config_groups_and_their_choices(capsys):
    from iris_wm.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    groups = {line.split("=")[0].strip(): line.split("=", 1)[1] for line in out.splitlines()
              if line.startswith(("  agent=", "  env=", "  preset="))}
    assert {"iris", "iris-lm", "delta-iris"} <= set(groups["agent"].replace(",", " ").split())
    assert "atari" in groups["env"] and "learn-minigrid" in groups["preset"]


def test_a_phase_must_be_named_after_its_settings_field():
    from dataclasses import replace

    import iris_wm
    from iris_wm.agents.iris.config import IRISTraining
    from iris_wm.training.trainer import check_phase_names
    from tests.factories import tiny_iris_config

    agent = iris_wm.create_model("iris", num_actions=4, device="cpu", config=tiny_iris_config())
    training = IRISTraining()
    phases = agent.phases(training)
    check_phase_names(phases, training)
    with pytest.raises(TypeError, match="training.wm"):
        check_phase_names([replace(phases[0], name="wm"), *phases[1:]], training)
