"""``iris train [key=value ...] [preset=NAME] [-m]``: train an agent (a Hydra 1.3 app)."""

from __future__ import annotations

import argparse
from pathlib import Path

from iris_wm.cli_arguments import FLAGS

EPILOG = """examples:
  iris train env.id=Pong preset=cpu-smoke           tiny networks, a few minutes on a CPU
  iris train env.id=Breakout                        the paper's protocol (preset=atari100k)
  iris train env.id=Pong common.device=cuda:1 training.learning_rate=3e-4
  iris train -m env.id=Pong,Breakout common.seed=0,1,2   a sweep, one run folder per job
  iris train agent=iris env=atari env.id=Pong       the agent and environment kinds (iris info lists them)
  iris train iris --env ALE/Pong-v5 --device cuda   TorchWM's spelling of agent=iris env.id=... common.device=...
  iris train env.id=Pong preset=cpu-smoke --cfg job   print the composed config; train nothing
  iris train agent=delta-iris --help-config          every key: its value, its range and what it does"""


def config_groups() -> str:
    """The config groups and their choices, for --help."""
    import iris_wm
    from iris_wm.agents import AGENT_KINDS
    from iris_wm.envs import ENV_KINDS

    presets = sorted(path.stem for path in (Path(iris_wm.__file__).parent / "config" / "preset").glob("*.yaml"))
    return ("config groups:\n"
            f"  agent=   {', '.join(AGENT_KINDS.names())}\n"
            f"  env=     {', '.join(ENV_KINDS.names())}\n"
            f"  preset=  {', '.join(presets)}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = f"{config_groups()}\n\n{EPILOG}"
    parser.add_argument("-m", "--multirun", action="store_true", help="sweep: one run per combination of a,b values")
    parser.add_argument("-c", "--cfg", choices=["job"], help="print the composed config (Hydra's --cfg job); train "
                                                             "nothing")
    parser.add_argument("--help-config", action="store_true",
                        help="list every key of the composed config: its value, range and what it does")
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="key=value overrides, preset=NAME")
    for flag, key in FLAGS.items():  # TorchWM's flags, also accepted among the overrides
        parser.add_argument(flag, dest=f"torchwm_{key}", metavar="VALUE", help=f"TorchWM's spelling of {key}=VALUE")


def train(config, run_dir: Path) -> int:
    from iris_wm.training.interrupt import stop_at_safe_points
    from iris_wm.training.trainer import Trainer

    print(f"run folder: {run_dir}", flush=True)
    with stop_at_safe_points():
        return Trainer(config, run_dir).run_until_stopped("iris train")


def run(args: argparse.Namespace) -> int:
    from iris_wm.cli_arguments import translate_train_arguments
    from iris_wm.run_folder import check_new_folder, new_run_folder
    from iris_wm.training.compose import compose_sweep
    from iris_wm.training.launch import launch

    sweep_flags = {"-m", "--multirun"}
    flags = [f"{flag}={getattr(args, f'torchwm_{key}')}" for flag, key in FLAGS.items()
             if getattr(args, f"torchwm_{key}") is not None]
    arguments = translate_train_arguments([*flags, *args.overrides])
    view, arguments = config_view(arguments)  # --cfg job / --help-config among the overrides
    view = "job" if args.cfg else "help" if args.help_config else view
    if view is not None:
        print(shown_config(view, arguments))
        return 0
    overrides = [o for o in arguments if o not in sweep_flags]
    multirun = args.multirun or len(overrides) < len(arguments)
    compose_sweep(overrides)  # every job's config, before anything is written
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), None)
    if given is None:
        folder = new_run_folder(Path("multirun" if multirun else "outputs"))
        made, overrides = True, [*overrides, f"{key}={folder}"]
    else:
        made = check_new_folder(Path(given), key)
    return launch((["--multirun"] if multirun else []) + overrides, train, made)


def config_view(arguments: list[str]) -> tuple[str | None, list[str]]:
    """Hydra's ``--cfg job`` (``-c job``) or ``--help-config`` where argparse left them among the overrides ->
    ("job" / "help" / None, the other arguments)."""
    from iris_wm.errors import IrisError

    view, rest, remaining = None, [], list(arguments)
    while remaining:
        argument = remaining.pop(0)
        if argument == "--help-config":
            view = "help"
        elif argument in ("--cfg", "-c"):
            if remaining[:1] != ["job"]:
                raise IrisError(f"{argument} shows the job's config: give {argument} job")
            view = remaining.pop(0)
        else:
            rest.append(argument)
    return view, rest


def shown_config(view: str, arguments: list[str]) -> str:
    """The composed config of ``arguments`` as YAML ("job"), or each of its keys described ("help"); writes
    nothing."""
    from omegaconf import OmegaConf

    from iris_wm.config.describe import keys_text
    from iris_wm.errors import IrisError
    from iris_wm.training.compose import compose_config

    overrides = [a for a in arguments if a not in ("-m", "--multirun") and not a.startswith("hydra.")]
    if any("," in o.partition("=")[2] for o in overrides):
        raise IrisError("--cfg job and --help-config show one job's config; leave out the sweep's a,b values")
    config = compose_config(overrides)
    return keys_text(config) if view == "help" else OmegaConf.to_yaml(OmegaConf.structured(config))
