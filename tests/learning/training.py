"""What both learning regression tests share: the task, what a run leaves out, and the test returns it logs."""

from pathlib import Path

from iris_wm.cli import main
from iris_wm.training.metrics_logger import read_metrics

RETURN = "test_dataset/return"
TASK = ["env=gym", "env.id=LitSide-v0", "env.import_module=tests.learning.lit_side", "common.num_threads=1",
        "collection.train.num_steps=48", "collection.test.num_episodes=16", "collection.test.num_envs=4",
        "evaluation.every=2", "training.learning_rate=1e-3"]
# nothing the assertions do not need
QUIET = ["logger.tensorboard=false", "evaluation.save_reconstructions=false",
         "evaluation.imagination_episodes_to_save=0", "collection.test.num_episodes_to_save=0",
         "collection.train.num_episodes_to_save=0", "evaluation.prediction_horizon=0"]


def returns_of_training(settings: list[str], run_dir: Path) -> list[float]:
    """Train with ``settings`` on the task; the test return of each evaluation, the first one untrained."""
    assert main(["train", *TASK, *settings, *QUIET, f"hydra.run.dir={run_dir}"]) == 0
    return [entry[RETURN] for entry in read_metrics(run_dir) if RETURN in entry]


def assert_learned(returns: list[float], least: float) -> None:
    """16 test episodes: the mean return of a policy right with probability 1/2 has a standard error of about
    0.35; 2 above the untrained policy and ``least`` of 8 are far outside chance."""
    untrained, trained = returns[0], returns[-1]
    assert 3 <= untrained <= 5, returns
    assert trained >= untrained + 2 and trained >= least, returns
