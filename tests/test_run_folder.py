"""The run folder's layout is named once, in ``iris_wm.run_folder``: its paths are an on-disk format
(runs saved before must still resume, play and report), and no other module spells them."""

import ast
from pathlib import Path

from iris_wm.run_folder import RunFolder, evaluations_below, run_folders_below

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "iris_wm"

# Each path property -> where runs saved before hold it, below the run folder.
PINNED = {
    "config_file": "config/train.yaml",
    "resume_history": "config/resumes.yaml",
    "checkpoints": "checkpoints",
    "latest_pointer": "checkpoints/latest",
    "train_dataset": "checkpoints/dataset/train",
    "authors_checkpoint": "checkpoints/last.pt",
    "media": "media",
    "reconstructions": "media/reconstructions",
    "recordings": "media/recordings",
    "prediction_figure": "media/prediction_error.png",
    "learning_curves": "media/learning_curves.png",
    "eval_dir": "eval",
    "benchmark_result": "eval/benchmark.json",
    "benchmark_log": "benchmark.log",
    "random_policy": "random_policy",
    "metrics_file": "metrics.jsonl",
    "tensorboard": "tensorboard",
    "lock_file": ".lock",
}

# The layout's names that mean nothing else in the code: flagged in any string. ("train" and "test"
# are left out: they are also the sides of a static dataset, a folder of another format.)
OWN_NAMES = {"checkpoints", "media", "reconstructions", "recordings", "random_policy", "metrics.jsonl", "train.yaml",
             "resumes.yaml", "last.pt", "benchmark.json", "benchmark.log", "prediction_error.png",
             "learning_curves.png", ".lock"}
# Names that are also a command, a mode, a dataset's name, a package or a metric's prefix: flagged
# where a path is built from them, or named as a module's constant (to build one later).
SHARED_NAMES = {"config", "eval", "dataset", "episodes", "imagination", "latest", "tensorboard"}
PATH_CALLS = {"Path", "PurePath", "joinpath", "glob", "rglob", "with_name"}
# Folders and files of those names that are no run's: torch hub's cache, the package's own configs,
# the figures of an `iris report` folder.
ELSEWHERE = {("models/lpips.py", "checkpoints"), ("commands/info.py", "checkpoints"), ("commands/train.py", "config"),
             ("evaluation/curves.py", "learning_curves.png"), ("training/prediction.py", "prediction_error.png")}


def path_literals(source: str) -> list[tuple[int, str]]:
    """(line, name) of each name of the layout spelled in a string: the whole string or one of its
    ``/``-separated parts (sentences, with spaces, are messages and docs, not paths)."""
    tree = ast.parse(source)
    in_paths = set()  # the strings a path is built from, and a module's constants (to build one later)
    for statement in tree.body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            value = statement.value
            in_paths |= {id(node) for node in (value, *(value.elts if isinstance(value, ast.Tuple) else ()))}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            in_paths |= {id(node.left), id(node.right)}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in PATH_CALLS:
            in_paths |= {id(argument) for argument in node.args}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not any(c.isspace() for c in node.value):
            names = OWN_NAMES | SHARED_NAMES if id(node) in in_paths else OWN_NAMES
            found += [(node.lineno, part) for part in node.value.split("/") if part in names]
    return sorted(found)


def test_the_literal_finder_finds_paths_built_by_hand():
    source = ('a = run_dir / "media" / "recordings"\n'
              'b = Path("config") / "train.yaml"\n'
              'c = sorted(path.glob("eval/*.json"))\n'
              'd = f"{run_dir}/checkpoints"\n'
              'METRICS, LATEST = "metrics.jsonl", "latest"\n'
              'if mode == "eval":\n'
              '    key, text = "imagination/return", "see config/train.yaml"\n')
    assert path_literals(source) == [(1, "media"), (1, "recordings"), (2, "config"), (2, "train.yaml"), (3, "eval"),
                                     (4, "checkpoints"), (5, "latest"), (5, "metrics.jsonl")]


def test_no_module_but_run_folder_spells_the_layout():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative != "run_folder.py":
            found += [f"src/iris_wm/{relative}:{line}: {name!r}" for line, name in path_literals(path.read_text())
                      if (relative, name) not in ELSEWHERE]
    assert found == [], "build these paths with iris_wm.run_folder.RunFolder:\n" + "\n".join(found)


def test_every_path_is_where_runs_saved_before_have_it():
    run = RunFolder(Path("r"))
    assert {name for name, value in vars(RunFolder).items() if isinstance(value, property)} == set(PINNED)
    assert {name: getattr(run, name) for name in PINNED} == {name: Path("r", where) for name, where in PINNED.items()}
    assert run.episode_media("imagination") == Path("r/media/episodes/imagination")
    assert run.epoch_checkpoint(12) == Path("r/checkpoints/epoch_0012") and RunFolder.epoch_of(Path("epoch_0012")) == 12
    assert run.reconstruction(4) == Path("r/media/reconstructions/epoch_0004.png")


def test_runs_and_their_evaluations_are_found_below_a_folder(tmp_path):
    runs = [RunFolder(tmp_path / "sweep" / name) for name in ("b", "a")]
    for run in runs:
        run.config_file.parent.mkdir(parents=True)
        run.config_file.write_text("env: {}\n")
        run.eval_dir.mkdir()
        (run.eval_dir / "eval_1.json").write_text("{}")
        run.epoch_checkpoint(3).mkdir(parents=True)
    (tmp_path / "sweep" / "not_a_run").mkdir()
    assert run_folders_below(tmp_path) == runs[::-1]
    assert evaluations_below(tmp_path / "sweep") == [run.eval_dir / "eval_1.json" for run in runs[::-1]]
    assert runs[0].epoch_checkpoints() == [runs[0].epoch_checkpoint(3)]
