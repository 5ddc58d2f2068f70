"""From ``iris play PATH MODE`` to a frame source: find the run folder and the game, load the agent,
check that it has what the mode needs.

Works from a run folder, a checkpoint folder (inside a run folder or not: ``--env`` names the game
when no run folder is found) or the authors' ``last.pt``; only the browser needs a run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from iris_wm.errors import IrisError

# mode -> (flag, what it shows, the agent's components it needs)
MODES = {
    "agent": ("the default mode", "the agent plays the real test game", ("tokenizer", "actor_critic")),
    "world-model": ("-w", "you play inside the world model", ("tokenizer", "world_model")),
    "agent-world-model": ("-a", "the agent plays inside the world model", ("tokenizer", "world_model", "actor_critic")),
    "episodes": ("-e", "browse saved episodes", ()),
}
RUN_FOLDER_DEPTH = 3  # RUN/checkpoints/epoch_0004/agent.safetensors is three folders below RUN


@dataclass
class Options:
    mode: str
    game: str | None = None  # overrides the run folder's game; required without a run folder
    device: str = "auto"
    seed: int = 0
    temperature: float = 0.5  # the paper's test temperature; the authors' viewer used 1.0 (spec §17.16)
    reconstruction: bool = False
    flush_every: int | None = None


def find_run_dir(path: Path) -> Path | None:
    """The run folder holding ``path`` (itself or a few folders up), or None."""
    from iris_wm.training.hydra_app import RESOLVED_CONFIG

    candidates = [path] if path.is_dir() else []
    candidates += list(path.parents)[:RUN_FOLDER_DEPTH]
    return next((folder for folder in candidates if (folder / RESOLVED_CONFIG).is_file()), None)


def open_source(path: Path, options: Options):
    """The frame source of the mode, the run folder (or None) and the game's action names."""
    from iris_wm.envs.atari import action_names, resolve_game_id

    if not path.exists():
        raise IrisError(f"{path} does not exist; give a run folder, a checkpoint folder or a last.pt file")
    run_dir = find_run_dir(path)
    test_config = _run_config(run_dir).env.test if run_dir else None
    if options.game is None and test_config is None:
        raise IrisError(f"{path} is not inside a run folder: say which game with --env, e.g. --env Breakout")
    game = resolve_game_id(options.game or test_config.id)
    names = action_names(game)
    if options.mode == "episodes":
        if run_dir is None:
            raise IrisError(f"-e browses the episodes saved in a run folder, and {path} is not in one; "
                            f"give the folder iris train created")
        from iris_wm.play.episodes import EpisodeBrowser

        return EpisodeBrowser(run_dir, names), run_dir, names
    return _agent_source(path, options, game, names, test_config), run_dir, names


def _run_config(run_dir: Path):
    from iris_wm.training.hydra_app import read_run_config

    return read_run_config(run_dir, [])


def _agent_source(path: Path, options: Options, game: str, names: list[str], test_config):
    import torch

    from iris_wm.checkpoint import load_agent
    from iris_wm.envs.atari import AtariConfig
    from iris_wm.play.sources import Policy, RealGameSource, WorldModelSource

    # The run's test settings (full games, one no-op start), or the paper's when there is no run.
    env_config = replace(test_config or AtariConfig(max_episode_steps=108_000, noop_max=1, done_on_life_loss=False),
                         id=game)
    torch.manual_seed(options.seed)  # the policy's and the world model's samples
    agent = load_agent(path, device=options.device).eval()
    check_components(agent, options.mode, path)
    if agent.num_actions != len(names):
        raise IrisError(f"{game} has {len(names)} actions but the agent was trained with {agent.num_actions}; "
                        f"pass the game it was trained on with --env")
    if options.mode == "agent":
        return RealGameSource(agent, env_config, names, options.seed, options.temperature, options.reconstruction)
    policy = Policy(agent, options.temperature) if options.mode == "agent-world-model" else None
    return WorldModelSource(agent, env_config, names, options.seed, policy, options.flush_every)


def check_components(agent, mode: str, path: Path) -> None:
    """Refuse a mode whose components the checkpoint lacks, naming them and the modes that remain."""
    missing = [name for name in MODES[mode][2] if getattr(agent, name, None) is None]
    if missing:
        usable = [flag for flag, _, needs in MODES.values() if all(getattr(agent, n, None) is not None for n in needs)]
        raise IrisError(f"{path} has no {' and no '.join(n.replace('_', ' ') for n in missing)}, which "
                        f"{MODES[mode][0]} needs ({MODES[mode][1]}); it can do: {', '.join(usable)}")
