"""``iris benchmark``: games x seeds of one agent, trained and evaluated with the paper's protocol
on a Hydra launcher, into ``SWEEP/scores.json`` and ``iris report``; ``iris benchmark status SWEEP``
prints each run's state. Running the same command again continues the sweep (docs/benchmark.md)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path

EPILOG = """examples:
  iris benchmark --agent iris --games atari26 --seeds 5 --launcher submitit --partition gpu --gpus-per-run 1
  iris benchmark --games Pong,Breakout --seeds 2 preset=cpu-smoke     one machine, tiny networks
  iris benchmark --env crafter --seeds 3 --launcher ray --ray-address auto
  iris benchmark --game ALE/Pong-v5 --checkpoint path/to/agent --seeds 5   evaluate one agent over 5 seeds
  iris benchmark status benchmark/iris_atari26_5seeds_train"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from iris_wm.sweep.launchers import LAUNCHERS, SlurmOptions, slurm_flag

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="iris train overrides of every run (or: status SWEEP)")
    parser.add_argument("--agent", default=None, help="the agent kind (iris info lists them; default iris)")
    parser.add_argument("--games", help="atari26, or games separated by commas (Pong,Breakout)")
    parser.add_argument("--game", dest="games", help="one game (TorchWM's spelling of --games)")
    parser.add_argument("--env", help="the environment kind (atari, crafter) or a game id (ALE/Pong-v5)")
    parser.add_argument("--seeds", type=int, default=5, help="runs per game, seeds 0..N-1 (default 5)")
    parser.add_argument("--launcher", choices=list(LAUNCHERS), default="local",
                        help="local (one run after the other here), submitit (SLURM), submitit-local, ray")
    parser.add_argument("--out", type=Path, help="the sweep folder (default: named after the command, so that "
                                                 "running it again continues the sweep)")
    parser.add_argument("--max-retries", type=int, default=2, help="restarts of a failed run (default 2)")
    parser.add_argument("--checkpoint", help="evaluate this agent (a path or hf:// reference) over the seeds "
                                             "instead of training")
    parser.add_argument("--eval-episodes", type=int, default=100, help="test episodes per run (the paper: 100)")
    parser.add_argument("--eval-envs", type=int, default=25, help="test environments per run (the paper: 25)")
    parser.add_argument("--report-reps", type=int, default=50_000, help="bootstrap reps of the report's CIs")
    parser.add_argument("--gpus-per-run", type=int, metavar="N",
                        help="GPUs of each run, with --launcher submitit, submitit-local or ray (default: "
                             "submitit asks none; Ray asks 1 if the cluster has GPUs, else 0)")
    slurm = parser.add_argument_group("SLURM (--launcher submitit)")
    hints = typing.get_type_hints(SlurmOptions)
    for option in dataclasses.fields(SlurmOptions):
        kind = int if int in typing.get_args(hints[option.name]) else str
        also = "; also with submitit-local" if option.metadata["local"] else ""
        slurm.add_argument(slurm_flag(option.name), dest=f"slurm_{option.name}", type=kind,
                           metavar="N" if kind is int else "NAME", help=option.metadata["help"] + also)
    parser.add_argument("--ray-address", help="with --launcher ray: auto (this cluster) or ray://HOST:PORT; "
                                              "default: a Ray instance started here")


def run(args: argparse.Namespace) -> int:
    if args.overrides[:1] == ["status"]:
        return status(args.overrides[1:])
    from iris_wm.errors import IrisError
    from iris_wm.sweep.records import sweep_status, write_scores
    from iris_wm.sweep.spec import default_sweep_folder, open_sweep
    from iris_wm.training.compose import compose_sweep

    spec, games_text = build_spec(args)
    launch = launch_options(args)
    launch.check()
    if args.max_retries < 0:
        raise IrisError(f"--max-retries must be at least 0, got {args.max_retries}")
    check_checkpoint(spec)
    sweep = (args.out or default_sweep_folder(spec, games_text)).resolve()
    # every job's config, before any work (Hydra's own settings are checked by Hydra when it launches)
    compose_sweep([*(o for o in spec.train_overrides() if not o.startswith(("hydra.", "hydra/"))),
                   f"env.id={','.join(spec.games)}", f"common.seed={','.join(map(str, range(spec.seeds)))}"])
    started = open_sweep(sweep, spec)
    before = sweep_status(spec, sweep)
    counts = {state: sum(run.state == state for run in before) for state in {run.state for run in before}}
    print(f"benchmark {sweep}: {'new sweep, ' if started else ''}{len(before)} runs "
          f"({', '.join(f'{n} {state}' for state, n in sorted(counts.items()))}), launcher {args.launcher}",
          flush=True)
    code = launch_runs_with_work(spec, sweep, before, launch, args.max_retries)
    write_scores(spec, sweep)
    runs = sweep_status(spec, sweep)
    print(status_table(runs))
    if code:
        return code
    return report(spec, sweep, runs, args.report_reps)


def launch_runs_with_work(spec, sweep: Path, runs, launch, max_retries: int) -> int:
    """One Hydra multirun over exactly the runs with work left, so that no cluster job is spent on a
    finished run, one given up after ``max_retries`` failures or one another launch's job holds: the
    exit code of the launch."""
    from iris_wm.sweep.job import BenchmarkJob
    from iris_wm.training.launch import run_hydra

    names = runs_with_work_left(runs, max_retries)
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    print(f"launching {len(names)} runs{': ' if names else ''}{shown}", flush=True)
    if not names:
        return 0
    return run_hydra([*spec.sweep_overrides(sweep, names), *launch.overrides(sweep)],
                     BenchmarkJob(sweep, spec, max_retries))


def runs_with_work_left(runs, max_retries: int) -> list[str]:
    from iris_wm.sweep.spec import run_name

    return [run_name(run.game, run.seed) for run in runs if run.has_work_left(max_retries)]


def build_spec(args: argparse.Namespace):
    from iris_wm.agents import DEFAULT_AGENT_KIND, get_agent_kind
    from iris_wm.cli_arguments import env_choice
    from iris_wm.envs import get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.sweep.spec import BenchmarkSpec, parse_games

    kind = get_agent_kind(args.agent or DEFAULT_AGENT_KIND)
    env_name, env_game = env_choice(args.env)
    env_kind = get_env_kind(env_name)
    games_text = args.games or env_game or _default_game(env_kind)
    if games_text is None:
        sets = "".join(f"--games {name}, " for name in env_kind.game_sets)
        raise IrisError(f"say which {env_kind.name} games: {sets}--games GAME,GAME or --game GAME")
    checkpoint = args.checkpoint
    if checkpoint is not None and not checkpoint.startswith("hf://"):
        checkpoint = str(Path(checkpoint).resolve())
    spec = BenchmarkSpec(kind.name, env_kind.name, parse_games(games_text, env_kind), args.seeds,
                         tuple(args.overrides), checkpoint, args.eval_episodes, args.eval_envs)
    return spec, games_text


def _default_game(env_kind) -> str | None:
    game = env_kind.config_class().id
    return None if game in (None, "???") else game


def launch_options(args: argparse.Namespace):
    from iris_wm.sweep.launchers import LaunchOptions, SlurmOptions

    slurm = SlurmOptions(**{name: getattr(args, f"slurm_{name}") for name in SlurmOptions.__dataclass_fields__})
    return LaunchOptions(args.launcher, slurm, args.gpus_per_run, args.ray_address)


def check_checkpoint(spec) -> None:
    """With --checkpoint: the agent loads, is of the --agent kind and fits every game's actions."""
    if spec.checkpoint is None:
        return
    from iris_wm.checkpoint import load_agent
    from iris_wm.envs import get_env_kind
    from iris_wm.errors import IrisError
    from iris_wm.training.compose import compose_config

    agent = load_agent(spec.checkpoint, device="cpu")
    if agent.kind != spec.agent:
        raise IrisError(f"{spec.checkpoint} is a {agent.kind} agent, not {spec.agent}; pass --agent {agent.kind}")
    for game in spec.games:
        test = compose_config([*spec.train_overrides(), f"env.id={game}"]).env.test  # the settings it is tested with
        num_actions = len(get_env_kind(spec.env).action_names(test))
        if num_actions != agent.num_actions:
            raise IrisError(f"{game} has {num_actions} actions but {spec.checkpoint} has {agent.num_actions}; "
                            f"benchmark it on the game it was trained on")


def status(arguments: list[str]) -> int:
    from iris_wm.errors import IrisError
    from iris_wm.sweep.records import sweep_status
    from iris_wm.sweep.spec import read_spec

    if len(arguments) != 1:
        raise IrisError("usage: iris benchmark status SWEEP (the folder iris benchmark wrote)")
    sweep = Path(arguments[0])
    print(status_table(sweep_status(read_spec(sweep), sweep)))
    return 0


def status_table(runs) -> str:
    rows = [("run", "state", "epoch", "test return", "score", "log")]
    for run in runs:
        epoch = f"{run.epoch}/{run.epochs}" if run.epochs is not None else "-"
        test_return = "-" if run.test_return is None else f"{run.test_return:.2f}"
        score = "-" if run.score is None else f"{run.score:.2f}"
        state = run.state if run.error is None or run.state == "finished" else f"{run.state} ({run.error[:40]})"
        rows.append((f"{run.game} seed {run.seed}", state, epoch, test_return, score, str(run.log)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
             for row in rows]
    finished = sum(run.state == "finished" for run in runs)
    return "\n".join([*lines, f"{finished} of {len(runs)} runs finished"])


def report(spec, sweep: Path, runs, reps: int) -> int:
    """``iris report`` on the finished sweep: its runs against the bundled references, in SWEEP/report."""
    from iris_wm.commands import report as report_command
    from iris_wm.sweep.spec import RUNS

    unfinished = [f"{run.game} seed {run.seed}" for run in runs if run.state != "finished"]
    if unfinished:
        failed = any(run.state == "failed" for run in runs)
        retry = " (the failed ones with a higher --max-retries, once their log's cause is fixed)" if failed else ""
        print(f"not reported: {len(unfinished)} runs are not finished ({', '.join(unfinished[:5])}); run the same "
              f"command again to continue them{retry}", flush=True)
        return 1
    parser = argparse.ArgumentParser(prog="iris report")
    report_command.add_arguments(parser)
    arguments = [f"{spec.agent}={sweep / RUNS}", "--out", str(sweep / "report"), "--reps", str(reps)]
    print(f"iris report {' '.join(arguments)}", flush=True)
    return report_command.run(parser.parse_args(arguments))
