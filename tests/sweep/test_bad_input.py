"""Bad input to ``iris benchmark``, ``--pretrained`` and ``iris push``: one line of error naming the
problem and the fix, exit code 2, before any work, and nothing already on disk changed."""

import sys
from pathlib import Path

import pytest

from iris_wm.cli import main
from iris_wm.sweep.spec import BenchmarkSpec, open_sweep
from tests.factories import folder_hash

pytest.importorskip("ale_py")


@pytest.fixture
def root(tmp_path) -> Path:
    """A sweep folder, a folder another tool wrote, and an empty folder."""
    root = tmp_path / "root"
    open_sweep(root / "sweep", BenchmarkSpec("iris", "atari", ("Pong",), 2))
    (root / "other").mkdir()
    (root / "other" / "results.csv").write_text("game,score\n")
    (root / "empty").mkdir()
    return root


BENCH = ["benchmark", "--games", "Pong", "--seeds", "2"]
CASES = [
    (["benchmark", "--agent", "dreamer", "--games", "Pong"], "unknown agent kind 'dreamer'"),
    (["benchmark", "--games", "Pongg,Breakout"], "did you mean Pong"),
    (["benchmark", "--games", ","], "names no game"),
    (["benchmark", "--env", "crafter", "--games", "atari26"], "unknown Crafter task 'atari26'"),
    (["benchmark"], "say which atari games: --games atari26"),
    ([*BENCH[:-1], "0"], "--seeds must be at least 1"),
    ([*BENCH, "--max-retries", "-1"], "--max-retries must be at least 0"),
    ([*BENCH, "--partition", "gpu"], "--partition is a SLURM option: use it with --launcher submitit"),
    ([*BENCH, "--launcher", "submitit-local", "--partition", "gpu"], "--partition is a SLURM option"),
    ([*BENCH, "--ray-address", "auto"], "--ray-address goes with --launcher ray"),
    ([*BENCH, "--gpus-per-run", "1"], "--gpus-per-run goes with --launcher submitit, submitit-local or ray"),
    ([*BENCH, "--launcher", "submitit-local", "--gpus-per-run", "-1"], "--gpus-per-run must be at least 0"),
    ([*BENCH, "--out", "ROOT/other"], "is not an iris benchmark sweep"),
    ([*BENCH, "--out", "ROOT/other/results.csv"], "is a file"),
    (["benchmark", "--games", "Breakout", "--seeds", "2", "--out", "ROOT/sweep"],
     "is a sweep with games=['Pong'], and this command asks ['Breakout']"),
    ([*BENCH, "--out", "ROOT/sweep", "common.epochs=3"], "is a sweep with overrides=[]"),
    ([*BENCH, "--out", "ROOT/empty", "training.learning_rat=3"], "learning_rat"),
    ([*BENCH, "--out", "ROOT/empty", "common.epochs=0"], "common.epochs=0 is out of range"),
    ([*BENCH, "--checkpoint", "ROOT/missing"], "checkpoint not found"),
    ([*BENCH, "--checkpoint", "hf://eloialonso/iris"], "names a repository but no file"),
    (["benchmark", "status", "ROOT/other"], "is not an iris benchmark sweep"),
    (["benchmark", "status"], "usage: iris benchmark status SWEEP"),
    (["eval", "--pretrained", "Pongg"], "no published agent for 'Pongg' of any agent kind; did you mean Pong"),
    (["eval", "--pretrained", "Pong", "--agent", "iris-lm"], "no published agent for 'Pong' of agent kind"),
    (["eval", "ROOT/empty", "--pretrained", "Pong"], "one of the two"),
    (["play", "--headless"], "one of the two"),
    (["eval", "hf://eloialonso/iris"], "names a repository but no file"),
    (["eval", "hf://eloialonso"], "is not a hub reference"),
    (["push", "ROOT/empty", "hf://me/agent"], "is not an iris-wm run folder"),
    (["push", "ROOT/empty", "hf://me/agent/agent.safetensors"], "names a file; give the repository only"),
    (["train", "env.id=Pong", "initialization.load_tokenizer=true"], "needs initialization.path_to_checkpoint"),
    (["train", "env.id=Pong", "initialization.load_tokeniser=true"], "load_tokeniser"),
]


def fill(arguments: list[str], root: Path) -> list[str]:
    return [argument.replace("ROOT", str(root)) for argument in arguments]


@pytest.mark.parametrize(("arguments", "message"), CASES, ids=[" ".join(case[0]) for case in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(arguments, message, root, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # where a default sweep folder would go
    before = folder_hash(root)
    code = main(fill(arguments, root))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert folder_hash(root) == before and not any(work.iterdir())


@pytest.mark.parametrize(("launcher", "module"), [("submitit", "submitit"), ("submitit-local", "submitit"),
                                                  ("ray", "ray")])
def test_a_launcher_whose_extra_is_missing_names_the_extra(launcher, module, root, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: import machinery finds nothing
    monkeypatch.chdir(root / "empty")
    assert main([*BENCH, "--launcher", launcher]) == 2
    err = capsys.readouterr().err.strip()
    assert f"--launcher {launcher} needs {module}" in err and "pip install 'iris-wm[cluster]'" in err
    assert len(err.splitlines()) == 1 and not any((root / "empty").iterdir())
