"""From ``iris play PATH MODE`` to a frame source: find the run folder and the game, load the agent,
check that it has what the mode needs.

Works from a run folder, a checkpoint folder (inside a run folder or not: ``--env`` names the game
when no run folder is found) or the authors' ``last.pt``; only the browser needs a run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from iris_wm.errors import IrisError

RUN_FOLDER_DEPTH = 3  # RUN/checkpoints/epoch_0004/agent.safetensors is three folders below RUN


@dataclass
class Options:
    mode: str
    game: str | None = None  # overrides the run folder's game; required without a run folder
    device: str = "auto"
    seed: int = 0
    temperature: float | None = None  # None: the agent kind's test temperature, as the agent is evaluated
    reconstruction: bool = False
    flush_every: int | None = None
    env_kind: str | None = None  # of the game, where no run folder says it (a published agent's)


def find_run_dir(path: Path) -> Path | None:
    """The run folder holding ``path`` (itself or a few folders up), or None."""
    from iris_wm.run_folder import RunFolder

    candidates = [path] if path.is_dir() else []
    candidates += list(path.parents)[:RUN_FOLDER_DEPTH]
    return next((folder for folder in candidates if RunFolder(folder).config_file.is_file()), None)


def open_source(path: Path | str, options: Options):
    """The frame source of the mode, the run folder (or None) and the game's action names; ``path``
    is local or an ``hf://`` reference."""
    from iris_wm.envs import DEFAULT_ENV_KIND, get_env_kind

    local = isinstance(path, Path)
    if local and not path.exists():
        raise IrisError(f"{path} does not exist; give a run folder, a checkpoint folder or a last.pt file")
    run_dir = find_run_dir(path) if local else None
    env_config = _run_config(run_dir).env if run_dir else None
    if options.game is None and env_config is None:
        raise IrisError(f"{path} is not inside a run folder: say which game with --env, e.g. --env Breakout")
    env_kind = get_env_kind(env_config.kind if env_config is not None else options.env_kind or DEFAULT_ENV_KIND)
    # The run's test settings (full games, one no-op start), or the paper's when there is no run.
    test_config = env_config.test if env_config is not None else env_kind.config_class().test
    game = env_kind.resolve_id(options.game or test_config.id)
    names = env_kind.action_names(replace(test_config, id=game))
    if options.mode == "episodes":
        if run_dir is None:
            raise IrisError(f"-e browses the episodes saved in a run folder, and {path} is not in one; "
                            f"give the folder iris train created")
        from iris_wm.play.episodes import EpisodeBrowser

        return EpisodeBrowser(run_dir, names, env_kind.describe_step), run_dir, names
    source = _agent_source(path, options, names, env_kind, replace(test_config, id=game))
    return source, run_dir, names


def _run_config(run_dir: Path):
    from iris_wm.training.run_config import read_run_config

    return read_run_config(run_dir, [])


def _agent_source(path: Path | str, options: Options, names: list[str], env_kind, env_config):
    import torch

    from iris_wm.agents import policy_temperature
    from iris_wm.checkpoint import load_agent
    from iris_wm.play.sources import Policy, RealGameSource, WorldModelSource

    torch.manual_seed(options.seed)  # the policy's and the world model's samples
    agent = load_agent(path, device=options.device).eval()
    if agent.num_actions != len(names):
        raise IrisError(f"{env_config.id} has {len(names)} actions but the agent was trained with {agent.num_actions}; "
                        f"pass the game it was trained on with --env")
    temperature = policy_temperature(agent, options.temperature)
    if options.mode == "agent":
        return RealGameSource(agent, env_kind.make_env(env_config, options.seed), env_kind, env_config.id, names,
                              temperature, options.reconstruction)
    policy = Policy(agent, temperature) if options.mode == "agent-world-model" else None
    return WorldModelSource(agent, env_kind.make_env(env_config, options.seed), env_kind, env_config.id, names,
                            policy, options.flush_every)
