"""A trained world model as a gymnasium environment, for any RL library (docs/world-model-env.md):
``WorldModelVectorEnv`` (batched, on the device) and ``WorldModelEnv`` (one episode, NumPy)."""

from iris_wm.world_model_env.single import WorldModelEnv
from iris_wm.world_model_env.starts import EpisodeStarts, TensorStarts
from iris_wm.world_model_env.vector import WorldModelVectorEnv

__all__ = ["EpisodeStarts", "TensorStarts", "WorldModelEnv", "WorldModelVectorEnv"]
