"""The package's layers point one way (the contract in pyproject.toml) and no module imports
itself back through others, function-level and type-checking imports included."""

from pathlib import Path

import pytest

grimp = pytest.importorskip("grimp")

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

# Modules of the shared machinery: they must not name a component of any one agent kind.
SHARED = ("training", "play", "sweep", "commands/train.py", "commands/resume.py", "commands/eval.py",
          "commands/play.py", "commands/benchmark.py", "commands/push.py", "cli_arguments.py",
          "checkpoint/loading.py", "checkpoint/run_checkpoint.py", "checkpoint/hub.py",
          "evaluation/protocol.py")
IRIS_NAMES = ("tokenizer", "world_model", "actor_critic", "policy_input", "IRISImagination", "FrameCache", "IRIS")


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of a directed graph {node: successors}."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            components.append(component)

    for node in list(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_cycles():
    components = strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    assert {"a", "b", "c"} in components and {"d"} in components


def test_no_import_cycles():
    graph = grimp.build_graph("iris_wm", cache_dir=None)
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    cycles = [sorted(c) for c in strongly_connected(imports) if len(c) > 1]
    assert cycles == []


def test_the_layer_contract_holds():
    # In a process of its own: import-linter's console outlives a test's captured output in this one.
    import subprocess
    import sys

    code = ("import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")
    result = subprocess.run([sys.executable, "-c", code, str(PYPROJECT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shared_machinery_names_no_component_of_an_agent_kind():
    package = Path(__file__).resolve().parents[1] / "src" / "iris_wm"
    files = [path for name in SHARED for path in ([package / name] if name.endswith(".py")
                                                  else sorted((package / name).glob("*.py")))]
    found = [(path.name, word) for path in files for word in IRIS_NAMES if word in path.read_text()]
    assert found == []


# Code that uses environment families through their record (iris_wm.envs.EnvKind): it must not name one.
FAMILY_USERS = ("commands", "evaluation", "sweep", "play", "training", "scores", "world_model_env", "data",
                "checkpoint", "cli.py")


def family_mentions(source: str, families: tuple[str, ...]) -> set[str]:
    """Identifiers that are or contain a family's name (``gym`` whole, as ``gymnasium`` is no family), and
    paths of a family's package, in strings too (lazy imports); comments, docstrings and help texts may name
    families as examples."""
    import io
    import re
    import tokenize

    def names_one(word: str) -> bool:
        return any(family == word.lower() if family == "gym" else family in word.lower() for family in families)

    found = {token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
             if token.type == tokenize.NAME and names_one(token.string)}
    return found | set(re.findall(rf"iris_wm\.envs\.(?:{'|'.join(families)})\b", source))


def test_the_family_finder_finds_names():
    source = ('import gymnasium\nfrom iris_wm.envs.gym import env\nx = "iris_wm.envs.crafter.kind"\n'
              'def run_atari():\n    """Atari 100k."""  # Crafter\n')
    assert family_mentions(source, ("atari", "crafter", "gym")) == {"gym", "run_atari", "iris_wm.envs.gym",
                                                                    "iris_wm.envs.crafter"}


def test_code_that_uses_env_families_names_none():
    from iris_wm.envs import BUILT_IN

    families = (*BUILT_IN, "ale_py", "minigrid")
    package = Path(__file__).resolve().parents[1] / "src" / "iris_wm"
    files = [path for name in FAMILY_USERS for path in ([package / name] if name.endswith(".py")
                                                        else sorted((package / name).rglob("*.py")))]
    found = {str(path.relative_to(package)): family_mentions(path.read_text(), families) for path in files}
    assert {path: names for path, names in found.items() if names} == {}
