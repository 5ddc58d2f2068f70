"""What ``iris benchmark`` hands its Hydra launcher: the SLURM flags and ``--gpus-per-run`` land in
each launcher's own config keys (composed by Hydra with the launcher's schema, which refuses a key
it does not have), Ray's default GPU request, and a sweep of exactly the runs with work left."""

import argparse
import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from hydra_plugins.iris_wm_ray_launcher.ray_launcher import gpus_per_job
from iris_wm.commands import benchmark
from iris_wm.run_folder import RunFolder
from iris_wm.sweep.launchers import LaunchOptions, SlurmOptions, slurm_flag
from iris_wm.sweep.records import RunRecord, sweep_status, write_record
from iris_wm.sweep.spec import RUN_KEY, BenchmarkSpec, open_sweep
from iris_wm.training.compose import CONFIG_MODULE, CONFIG_NAME, register_schema, sweep_jobs, with_presets

needs_submitit = pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                                    reason="the cluster extra is not installed")
SWEEP = Path("/sweeps/one")


def launcher_config(options: LaunchOptions):
    """``hydra.launcher`` as Hydra composes it for a benchmark launched with ``options``."""
    register_schema()
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        cfg = compose(CONFIG_NAME, overrides=with_presets(["env.id=Pong", *options.overrides(SWEEP)]),
                      return_hydra_config=True)
    return cfg.hydra.launcher


def every_slurm_option(local_only: bool) -> SlurmOptions:
    """A distinct value for each option (a str option a name, an int option a number)."""
    values = {}
    for number, option in enumerate(dataclasses.fields(SlurmOptions), start=3):
        if option.metadata["local"] or not local_only:
            values[option.name] = number if "int" in str(option.type) else f"value{number}"
    return SlurmOptions(**values)


@needs_submitit
@pytest.mark.parametrize("launcher", ["submitit", "submitit-local"])
def test_each_slurm_flag_sets_the_submitit_launcher_key_of_its_name(launcher):
    slurm = every_slurm_option(local_only=launcher == "submitit-local")
    options = LaunchOptions(launcher, slurm, gpus_per_run=2)
    options.check()
    config = launcher_config(options)
    assert config["_target_"].endswith("SlurmLauncher" if launcher == "submitit" else "LocalLauncher")
    assert {key: config[key] for key in slurm.given()} == slurm.given()
    assert config.gpus_per_node == 2 and config.submitit_folder == str(SWEEP / "submitit" / "%j")


@needs_submitit
def test_submitit_jobs_get_a_time_limit_for_a_paper_sized_run_unless_told():
    assert launcher_config(LaunchOptions("submitit")).timeout_min == 4 * 24 * 60
    assert launcher_config(LaunchOptions("submitit", SlurmOptions(timeout_min=90))).timeout_min == 90


def test_gpus_per_run_and_the_address_set_the_ray_launchers_keys():
    config = launcher_config(LaunchOptions("ray", gpus_per_run=2, ray_address="ray://head:10001"))
    assert (config.gpus_per_job, config.address) == (2, "ray://head:10001")
    assert launcher_config(LaunchOptions("ray")).gpus_per_job is None  # Ray's default, decided on the cluster


def test_ray_asks_one_gpu_per_run_where_the_cluster_has_gpus_unless_told():
    assert gpus_per_job(None, {"CPU": 64.0, "GPU": 8.0, "memory": 1e11}) == 1
    assert gpus_per_job(None, {"CPU": 2.0, "memory": 1e9}) == 0  # a CPU cluster: a request of 1 would never run
    assert gpus_per_job(0.5, {"CPU": 64.0, "GPU": 8.0}) == 0.5
    assert gpus_per_job(0, {"CPU": 64.0, "GPU": 8.0}) == 0


def test_every_slurm_flag_has_help():
    parser = argparse.ArgumentParser(prog="iris benchmark")
    benchmark.add_arguments(parser)
    flags = {flag: action.help for action in parser._actions for flag in action.option_strings}
    for option in dataclasses.fields(SlurmOptions):
        assert "sbatch" in flags[slurm_flag(option.name)], option.name
    assert "GPUs of each run" in flags["--gpus-per-run"]
    parser.format_help()  # every help text formats (argparse expands % in them)


def test_the_sweep_is_exactly_the_runs_with_work_left(tmp_path):
    """Finished, given-up and pending runs that are no product of games and seeds: Hydra's sweep
    has one job per pending or retriable run, and none for the others."""
    spec = BenchmarkSpec("iris", "atari", ("Pong", "Breakout"), 2)
    sweep = tmp_path / "sweep"
    open_sweep(sweep, spec)
    for game, seed in [("Pong", 0), ("Breakout", 1)]:
        result = RunFolder(spec.run_dir(sweep, game, seed)).benchmark_result
        result.parent.mkdir(parents=True)
        result.write_text(json.dumps({game: [1.5]}))
    write_record(sweep, RunRecord("Pong", 1, attempts=3, failures=3, gave_up=True, error="ValueError: nan"))

    def swept(max_retries: int) -> list[str]:
        names = benchmark.runs_with_work_left(sweep_status(spec, sweep), max_retries)
        multirun, *overrides = spec.sweep_overrides(sweep, names)
        assert multirun == "--multirun"
        return [o for job in sweep_jobs(overrides) for o in job if o.startswith(f"+{RUN_KEY}=")]

    assert swept(max_retries=2) == [f"+{RUN_KEY}=Breakout/seed_0"]
    assert swept(max_retries=3) == [f"+{RUN_KEY}=Pong/seed_1", f"+{RUN_KEY}=Breakout/seed_0"]
