"""The test temperature comes from the agent kind, as each kind's authors evaluate it: IRIS (and
IRIS with a language model) samples at 0.5, Δ-IRIS at 1.0. ``iris eval`` records the temperature it
used; an explicit ``--temperature`` wins; ``iris play`` shows the agent at the same temperature."""

import json
from pathlib import Path

import pytest

from iris_wm import create_model, save_agent
from iris_wm.agents import get_agent_kind
from iris_wm.cli import main
from tests.agents.delta_iris.tiny import tiny_config as tiny_delta_config
from tests.factories import tiny_iris_config

pytest.importorskip("ale_py")

TINY = {"iris": tiny_iris_config, "delta-iris": tiny_delta_config}
DEFAULT = {"iris": 0.5, "delta-iris": 1.0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Per kind, a run folder of a tiny untrained Breakout agent whose test episodes last 20 steps."""
    runs = {}
    for kind, config in TINY.items():
        run = tmp_path_factory.mktemp(kind)
        (run / "config").mkdir()
        (run / "config" / "train.yaml").write_text(
            f"agent:\n  kind: {kind}\nenv:\n  id: Breakout\n  test:\n    max_episode_steps: 20\n")
        save_agent(create_model(kind, 4, "cpu", config()), run / "checkpoints" / "epoch_0001")
        (run / "checkpoints" / "latest").write_text("epoch_0001\n")
        runs[kind] = run
    return runs


def evaluated_temperature(run: Path, out: Path, *arguments: str) -> float:
    assert main(["eval", str(run), "--episodes", "1", "--num-envs", "1", "--device", "cpu", "--out", str(out),
                 *arguments]) == 0
    return json.loads(out.read_text())["details"]["temperature"]


@pytest.mark.parametrize("kind", list(TINY))
def test_eval_samples_at_the_kind_temperature_unless_told(runs, kind, tmp_path):
    assert evaluated_temperature(runs[kind], tmp_path / "default.json") == DEFAULT[kind]
    assert evaluated_temperature(runs[kind], tmp_path / "told.json", "--temperature", "0.7") == 0.7


@pytest.mark.parametrize("kind", list(TINY))
def test_play_shows_the_agent_at_the_kind_temperature_unless_told(runs, kind):
    from iris_wm.play.session import Options, open_source

    for asked, expected in ((None, DEFAULT[kind]), (0.3, 0.3)):
        source, _, _ = open_source(runs[kind], Options("agent", device="cpu", temperature=asked))
        assert source.policy.temperature == expected
        source.env.close()


def test_iris_with_a_language_model_is_tested_as_iris():
    assert get_agent_kind("iris-lm").eval_temperature == get_agent_kind("iris").eval_temperature == 0.5
