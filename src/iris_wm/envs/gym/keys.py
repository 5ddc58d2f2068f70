"""A person's keys for any gymnasium env: digits for action indices, arrows where the actions' names
say which way."""

from __future__ import annotations

DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]  # actions 0..9
# arrow key -> words in an action's name that mean that way (the first action named so gets the key)
ARROWS = {"left": ("left",), "right": ("right",), "up": ("up", "forward"), "down": ("down", "backward")}


def play_keys(action_names: list[str]) -> dict[str, str]:
    """pygame key name -> action name."""
    keys = dict(zip(DIGITS, action_names, strict=False))
    for key, words in ARROWS.items():
        named = next((name for name in action_names if any(word in name.lower() for word in words)), None)
        if named is not None:
            keys[key] = named
    return keys
