"""Which key does what in ``iris play`` (the authors' layout).

Keys are pygame key names (``pygame.key.key_code(name)``), so the maps can be printed and tested
without a window.
"""

from __future__ import annotations

# Episode browser commands (the authors' keys); "imagination" is ours: the authors had no such episodes.
BROWSER_KEYS = {
    "left": "previous frame", "right": "next frame",
    "page down": "back 10", "page up": "forward 10", "space": "first frame",
    "down": "previous episode", "up": "next episode",
    "t": "train", "y": "test", "i": "imagination",
}

# Keys every mode shares, handled by the app itself.
GLOBAL_KEYS = {
    "return": "new episode (browser: first frame)", ".": "pause / resume", ",": "start / stop recording",
    "escape": "quit",
}


def action_keymap(keys: dict[str, str], action_names: list[str]) -> dict[str, int]:
    """key name -> action index, for the keys (an env kind's ``play_keys``) whose action is in this
    env's action set."""
    index = {name.upper(): i for i, name in enumerate(action_names)}
    return {key: index[action.upper()] for key, action in keys.items() if action.upper() in index}


def describe(keymap: dict[str, object], action_names: list[str]) -> str:
    """One line per key, the form printed at start: ``  space  FIRE``. Action indices are named."""
    rows = {**{key: action_names[value] if isinstance(value, int) else value for key, value in keymap.items()},
            **GLOBAL_KEYS}
    width = max(len(key) for key in rows)
    return "\n".join(f"  {key:<{width}}  {what}" for key, what in rows.items())
