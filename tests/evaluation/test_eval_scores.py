"""Score files: formats, game names, run folders, bundled baselines and one-line errors."""

import json

import pytest

from iris_wm.envs.atari import scores as atari_scores
from iris_wm.errors import IrisError
from iris_wm.games import ATARI_100K_GAMES
from iris_wm.scores import files as scores
from iris_wm.scores.files import HNS, RAW, MethodScores

GAMES = list(ATARI_100K_GAMES)


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "spelling", ["MsPacman", "ms_pacman", "MsPacmanNoFrameskip-v4", "ALE/MsPacman-v5", "mspacman", "Ms. Pac-Man"]
)
def test_game_names_are_normalised(spelling):
    assert scores.canonical_game(spelling, GAMES, "test") == "MsPacman"


def test_other_game_spellings():
    assert scores.canonical_game("up_n_down", GAMES, "x") == "UpNDown"
    assert scores.canonical_game("BreakoutDeterministic-v4", GAMES, "x") == "Breakout"
    assert scores.canonical_game("JamesBond", GAMES, "x") == "Jamesbond"


def test_unknown_game_names_the_game_and_suggests_one():
    with pytest.raises(IrisError, match=r"f\.json: unknown game 'Breakot'; did you mean 'Breakout'\?") as error:
        scores.canonical_game("Breakot", GAMES, "f.json")
    assert "--human/--random" in str(error.value) and "\n" not in str(error.value)


def test_runs_format_with_metadata_keys_like_iris_eval(tmp_path):
    path = _write(tmp_path / "eval.json", {"breakout": [10, 12.5], "Pong": [1.0, -3], "epoch": 600, "meta": {"a": 1}})
    method = scores.read_score_file(path, GAMES)
    assert method.name == "eval" and method.kind == RAW
    assert method.games == {"Breakout": [10.0, 12.5], "Pong": [1.0, -3.0]}


def test_curl_records_format_is_read_in_seed_order():
    method = atari_scores.load_baseline("CURL")
    assert method.kind == HNS and method.name == "CURL"
    assert sorted(method.games) == sorted(GAMES) and {len(v) for v in method.games.values()} == {100}
    assert method.games["Alien"][0] == pytest.approx(0.0538268671)  # seed 1.0 in the published file


def test_records_with_raw_scores(tmp_path):
    path = _write(
        tmp_path / "r.json", [{"game": "Pong", "seed": 2, "score": 3}, {"game": "Pong", "seed": 1, "score": 1}]
    )
    method = scores.read_score_file(path, GAMES)
    assert method.kind == RAW and method.games == {"Pong": [1.0, 3.0]}


@pytest.mark.parametrize("kind", [RAW, HNS])
def test_write_then_read_round_trips(tmp_path, kind):
    method = MethodScores("mine", {"Pong": [1.5, 2.0], "Alien": [300.0, 250.0]}, kind)
    scores.write_score_file(tmp_path / "mine.json", method)
    again = scores.read_score_file(tmp_path / "mine.json", GAMES)
    assert again.kind == kind and again.games == method.games
    if kind == HNS:  # the published CURL layout: a list of records
        assert json.loads((tmp_path / "mine.json").read_text())[0] == {"game": "Pong", "seed": 1.0, "HNS": 1.5}


def test_run_folders_pool_every_eval_json_below_them(tmp_path):
    for run, content in (("a", {"Pong": [1.0]}), ("b", {"Pong": [3.0], "Alien": [250.0]})):
        (tmp_path / "runs" / run / "eval").mkdir(parents=True)
        _write(tmp_path / "runs" / run / "eval" / "final.json", content)
    method = scores.read_scores(tmp_path / "runs", GAMES)
    assert method.name == "runs" and method.games == {"Pong": [1.0, 3.0], "Alien": [250.0]}
    assert scores.read_scores(tmp_path / "runs" / "b", GAMES, name="b-run").name == "b-run"


def test_a_folder_without_eval_files_is_a_clear_error(tmp_path):
    with pytest.raises(IrisError, match=r"no eval/\*\.json files found; run `iris eval`"):
        scores.read_scores(tmp_path, GAMES)


@pytest.mark.parametrize(
    "content, message",
    [
        ('"hello"', "top level is str"),
        ("{}", "no games found"),
        ('{"Pong": []}', "'Pong' has no runs"),
        ('{"Pong": [1, "x"]}', "'x' is not a finite number"),
        ('{"Pong": [true]}', "True is not a finite number"),
        ('{"Pong": [1], "pong": [2]}', "appears twice"),
        ('[{"game": "Pong"}]', "records need"),
        ('[{"game": "Pong", "HNS": 1}, {"game": "Pong", "score": 2}]', "mixes normalised"),
        ("[]", "list of records is empty"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_wrong_formats_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(IrisError, match=message) as error:
        scores.read_scores(path, GAMES)
    assert "\n" not in str(error.value) and "bad.json" in str(error.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(IrisError, match="does not exist"):
        scores.read_score_file(tmp_path / "nope.json", GAMES)


def test_bundled_references():
    references = atari_scores.load_references()
    assert references.games == GAMES
    assert references.random["Pong"] == -20.7 and references.human["Pong"] == 14.6


def test_user_references_can_add_games_and_must_be_complete(tmp_path):
    human = _write(tmp_path / "h.json", {"ms_pacman": [6951.6], "Pitfall": [6464.0]})
    random = _write(tmp_path / "r.json", {"MsPacman": [307.3], "Pitfall": [-229.4]})
    references = atari_scores.load_references(random, human)
    assert references.games == ["MsPacman", "Pitfall"]
    _write(random, {"MsPacman": [307.3]})
    with pytest.raises(IrisError, match="missing random reference score for Pitfall; add them"):
        atari_scores.load_references(random, human)
    _write(random, {"MsPacman": [6951.6], "Pitfall": [-229.4]})
    with pytest.raises(IrisError, match="'MsPacman': human and random reference scores are equal"):
        atari_scores.load_references(random, human)


@pytest.mark.parametrize(
    "spelling, key",
    [
        ("delta-iris", "DELTA_IRIS"),
        ("Δ-IRIS", "DELTA_IRIS"),
        ("DrQ(eps)", "DrQ_eps"),
        ("drq_ε", "DrQ_eps"),
        ("spr", "SPR"),
    ],
)
def test_baseline_spellings(spelling, key):
    assert atari_scores.baseline_key(spelling) == key


def test_unknown_baseline_lists_the_bundled_ones():
    with pytest.raises(IrisError, match="unknown baseline 'DreamerV3'; bundled baselines: IRIS, DELTA_IRIS"):
        atari_scores.baseline_key("DreamerV3")


@pytest.mark.parametrize("key", list(atari_scores.BASELINES))
def test_every_bundled_baseline_has_all_26_games(key):
    method = atari_scores.load_baseline(key)
    assert sorted(method.games) == sorted(GAMES)
    assert len({len(runs) for runs in method.games.values()}) == 1
