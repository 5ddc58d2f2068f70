"""The learning regression test: on a pixel task a policy learns in minutes (tests/learning/lit_side.py,
random return 4 of the best 8), IRIS's test return after training is clearly above its untrained policy's.
It fails if any link breaks: the tokenizer, the world model's reward (which must tie the reward to the frame
and the action), imagination, or the actor-critic's update; measured, it fails with the actor's loss sign
flipped and with the world model fed shuffled actions (docs/learning.md). Δ-IRIS's test is its own module,
outside the default suite until it fits its budget (``pytest -m beyond_budget tests/learning``).

The settings are the tiny preset with a larger learning rate and more steps per epoch (the algorithm
unchanged); the actor-critic starts at epoch 3, after the first evaluation, which is the untrained policy's.
"""

from tests.learning.training import assert_learned, returns_of_training

SETTINGS = [
    "agent=iris", "preset=cpu-smoke", "common.epochs=10",
    "training.tokenizer.start_after_epochs=0", "training.tokenizer.steps_per_epoch=20",
    "training.world_model.start_after_epochs=1", "training.world_model.steps_per_epoch=40",
    "training.actor_critic.start_after_epochs=2", "training.actor_critic.steps_per_epoch=20",
]


def test_iris_learns_the_task(tmp_path):
    assert_learned(returns_of_training(SETTINGS, tmp_path / "run"), least=6.5)
