"""The learning regression test: on a pixel task a policy learns in minutes (tests/learning/lit_side.py,
random return 4 of the best 8), IRIS's test return after training is clearly above its untrained policy's.
It fails if any link breaks: the tokenizer, the world model's reward (which must tie the reward to the frame
and the action), imagination, or the actor-critic's update; measured, it fails with the actor's loss sign
flipped and with the world model fed shuffled actions (docs/learning.md). Δ-IRIS learns the task too, not
yet reliably within this budget.

The settings are the tiny preset with a larger learning rate and more steps per epoch (the algorithm
unchanged); the actor-critic starts at epoch 3, after the first evaluation, which is the untrained policy's.
"""

from iris_wm.cli import main
from iris_wm.training.metrics_logger import read_metrics

RETURN = "test_dataset/return"
SETTINGS = [
    "agent=iris", "preset=cpu-smoke", "env=gym", "env.id=LitSide-v0", "env.import_module=tests.learning.lit_side",
    "common.epochs=10", "common.num_threads=1", "collection.train.num_steps=48", "collection.test.num_episodes=16",
    "collection.test.num_envs=4", "evaluation.every=2", "training.learning_rate=1e-3",
    "training.tokenizer.start_after_epochs=0", "training.tokenizer.steps_per_epoch=20",
    "training.world_model.start_after_epochs=1", "training.world_model.steps_per_epoch=40",
    "training.actor_critic.start_after_epochs=2", "training.actor_critic.steps_per_epoch=20",
    # nothing the assertion does not need
    "logger.tensorboard=false", "evaluation.save_reconstructions=false", "evaluation.imagination_episodes_to_save=0",
    "collection.test.num_episodes_to_save=0", "collection.train.num_episodes_to_save=0",
    "evaluation.prediction_horizon=0",
]


def test_iris_learns_the_task(tmp_path):
    assert main(["train", *SETTINGS, f"hydra.run.dir={tmp_path / 'run'}"]) == 0
    returns = [entry[RETURN] for entry in read_metrics(tmp_path / "run") if RETURN in entry]
    untrained, trained = returns[0], returns[-1]
    # 16 test episodes: the mean return of a policy right with probability 1/2 has a standard error of about
    # 0.35; 2 above the untrained policy and 6.5 of 8 are far outside chance.
    assert 3 <= untrained <= 5, returns
    assert trained >= untrained + 2 and trained >= 6.5, returns
