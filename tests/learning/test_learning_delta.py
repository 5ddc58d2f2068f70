"""The learning regression test of Δ-IRIS (see test_learning.py; not in the default suite yet, see its mark): on
the same task, its test return after training is clearly above its untrained policy's. Its tiny preset with a
context of 6 frames (a burn-in of 2 and imagined rollouts of 3 steps: the task's reward is immediate), a
learning rate of 1e-3 and more actor-critic steps; the untrained policy is tested at epoch 2, the actor-critic
trains from epoch 3."""

import pytest

from tests.learning.training import assert_learned, returns_of_training

SETTINGS = [
    "agent=delta-iris", "preset=delta-cpu-smoke", "common.epochs=8", "collection.train.num_steps_first_epoch=96",
    "agent.world_model.transformer.max_blocks=6", "agent.actor_critic_loss.burn_in=2",
    "agent.actor_critic_loss.imagine_horizon=3",
    "training.tokenizer.steps_first_epoch=30", "training.tokenizer.steps_per_epoch=5",
    "training.world_model.start_after_epochs=1", "training.world_model.steps_per_epoch=30",
    "training.actor_critic.start_after_epochs=2", "training.actor_critic.steps_per_epoch=20",
    "training.actor_critic.batch_num_samples=8",
]


# 2.4 minutes of CPU alone, but beside IRIS's learning test on the suite's other worker both slow down and the
# suite goes past its 10 minutes: outside it until it is cheaper (pytest -m beyond_budget tests/learning).
@pytest.mark.beyond_budget
def test_delta_iris_learns_the_task(tmp_path):
    assert_learned(returns_of_training(SETTINGS, tmp_path / "run"), least=6.5)
