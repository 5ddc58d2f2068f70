"""One job of a benchmark sweep: one (game, seed) run, brought to its result whatever state an
earlier attempt left it in.

- finished (``eval/benchmark.json`` written): nothing to do;
- a checkpoint short of its epochs: resumed as ``iris resume`` would (the stored config, every
  episode, optimizer and RNG state);
- trained to its epochs: evaluated with the paper's test protocol;
- nothing, or a start that died before its first checkpoint: trained from the start;
- a failure (an exception, a non-finite loss) is recorded and retried, from the last checkpoint,
  until the run has failed more than ``max_retries`` times; then it is left as failed.

The job is a picklable callable: Hydra's launchers run it in this process (local), in a submitit
job (SLURM, or submitit's local executor) or in a Ray task.
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, open_dict

from iris_wm.atomic import atomic_write_text
from iris_wm.checkpoint import load_agent
from iris_wm.checkpoint.run_checkpoint import completed_epochs
from iris_wm.envs import get_env_kind
from iris_wm.errors import IrisError
from iris_wm.evaluation.protocol import EvalProtocol, evaluate, summary_lines
from iris_wm.run_folder import RunFolder, lock_run_folder, release_run_folder
from iris_wm.sweep.records import RunRecord, read_record, write_record, write_scores
from iris_wm.sweep.spec import RUN_KEY, BenchmarkSpec, parse_run_name
from iris_wm.training.compose import to_train_config
from iris_wm.training.config import TrainConfig
from iris_wm.training.interrupt import Interrupted, stop_at_safe_points
from iris_wm.training.run_config import read_run_config, write_resolved_config
from iris_wm.training.trainer import Trainer


@dataclass(frozen=True)
class BenchmarkJob:
    sweep: Path
    spec: BenchmarkSpec
    max_retries: int

    def __call__(self, cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
        run = RunFolder(run_dir)
        game, seed = take_run(cfg)
        config = to_train_config(cfg)
        label = f"{game} seed {seed}"
        record = read_record(self.sweep, game, seed)
        if run.benchmark_result.is_file():
            print(f"{label}: finished earlier, skipped", flush=True)
            return
        if record.failures > self.max_retries:
            print(f"{label}: failed {record.failures} times (last: {record.error}); not retried (more with a "
                  f"higher --max-retries)", flush=True)
            return
        try:
            lock_run_folder(run_dir)
        except IrisError as error:  # another process (an earlier launch's job still running) has it
            print(f"{label}: {error}", flush=True)
            return
        try:
            with teed_to(run.benchmark_log), stop_at_safe_points():
                self.run_with_retries(cfg, config, run_dir, record, label)
        except Interrupted as stop:
            print(f"{label}: interrupted ({stop}); run the same iris benchmark command to continue", flush=True)
            sys.exit(stop.exit_code)
        finally:
            release_run_folder(run_dir)

    def run_with_retries(self, cfg: DictConfig, config: TrainConfig, run_dir: Path, record: RunRecord,
                         label: str) -> None:
        while True:
            record.attempts += 1
            record.gave_up = False  # until this attempt fails with no retry left
            write_record(self.sweep, record)
            try:
                self.attempt(cfg, config, run_dir, label)
            except Interrupted:
                raise
            except Exception as error:  # noqa: BLE001 - any failure of one run is recorded, never spread
                traceback.print_exc()  # into the run's log, for whoever reads why it failed
                record.failures += 1
                record.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                record.gave_up = record.failures > self.max_retries
                write_record(self.sweep, record)
                print(f"{label}: failed ({record.error}); attempt {record.attempts}, "
                      f"{'giving up' if record.gave_up else 'retrying'}", flush=True)
                if record.gave_up:
                    return
                continue
            record.error = None
            write_record(self.sweep, record)
            finished = sum(map(len, write_scores(self.spec, self.sweep).values()))
            print(f"{label}: finished; {finished} of {len(self.spec.jobs())} runs have a score", flush=True)
            return

    def attempt(self, cfg: DictConfig, config: TrainConfig, run_dir: Path, label: str) -> None:
        if self.spec.checkpoint is None:
            self.train(cfg, config, run_dir, label)
            source: Path | str = run_dir
        else:
            write_resolved_config(run_dir, cfg)
            source = self.spec.checkpoint
        print(f"{label}: evaluating {source} ({self.spec.eval_episodes} test episodes)", flush=True)
        agent = load_agent(source, device=config.common.device)
        protocol = EvalProtocol(self.spec.eval_episodes, self.spec.eval_envs, seed=config.common.seed)
        env_kind = get_env_kind(config.env.kind)
        result = evaluate(agent, env_kind, config.env.test, protocol, str(source))
        for line in summary_lines(result, env_kind.score_metric):
            print(f"{label}: {line}", flush=True)
        atomic_write_text(RunFolder(run_dir).benchmark_result, json.dumps(result, indent=1))

    def train(self, cfg: DictConfig, config: TrainConfig, run_dir: Path, label: str) -> None:
        done = completed_epochs(RunFolder(run_dir))
        if done == 0:
            clear_unstarted(run_dir)
            write_resolved_config(run_dir, cfg)
            print(f"{label}: training {config.common.epochs} epochs in {run_dir}", flush=True)
            Trainer(config, run_dir).run()
            return
        stored = read_run_config(run_dir, [])
        if done < stored.common.epochs:
            print(f"{label}: resuming {run_dir} after epoch {done}", flush=True)
            Trainer(stored, run_dir, resume=True).run()


def take_run(cfg: DictConfig) -> tuple[str, int]:
    """The job's game and seed, moved from the sweep key into ``env.id`` and ``common.seed``: the key
    is no training setting, so the run's stored config (what ``iris resume`` reads) has no trace of it."""
    with open_dict(cfg):
        game, seed = parse_run_name(cfg.pop(RUN_KEY))
        cfg.env.id, cfg.common.seed = game, seed
    return game, seed


def clear_unstarted(run_dir: Path) -> None:
    """What a start that died before its first checkpoint left (episodes, metrics, media): a run
    without a checkpoint starts again from nothing. The lock and the log stay."""
    run = RunFolder(run_dir)
    for child in run_dir.iterdir():
        if child not in (run.lock_file, run.benchmark_log):
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


class _Tee:
    def __init__(self, *streams) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for stream in self.streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self.streams:
            stream.flush()

    def isatty(self) -> bool:
        return False


@contextmanager
def teed_to(path: Path):
    """What the job prints goes to ``path`` (appended: one log over all attempts) and where it went."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log, redirect_stdout(_Tee(sys.stdout, log)), \
            redirect_stderr(_Tee(sys.stderr, log)):
        yield
