"""Config keys that were renamed: a command line that names an old key is refused with the new one,
and a run folder saved with old keys is read with the new ones, so that it still resumes.

Keys are dotted paths (``training.should``); an entry moves the value as it is.
"""

from __future__ import annotations

from typing import Any

from iris_wm.errors import IrisError

RENAMED_KEYS = {
    "training.should": "training.enabled",
    "evaluation.should": "evaluation.enabled",
    "collection.path_to_static_dataset": "collection.offline_dataset",
}


def check_not_renamed(overrides: list[str]) -> None:
    """Overrides (``key=value``, ``+key=value``, ``~key``) that name no renamed key, or one line naming the new key."""
    for override in overrides:
        key = override.lstrip("+~").partition("=")[0]
        if key in RENAMED_KEYS:
            raise IrisError(f"{key} was renamed {RENAMED_KEYS[key]}; write {RENAMED_KEYS[key]}=...")


def with_current_keys(config: dict[str, Any]) -> dict[str, Any]:
    """A saved config (nested dicts) with each renamed key's value under its new name; changed in place."""
    for old, new in RENAMED_KEYS.items():
        *old_parents, old_leaf = old.split(".")
        parent = _section(config, old_parents)
        if parent is None or old_leaf not in parent:
            continue
        value = parent.pop(old_leaf)
        *new_parents, new_leaf = new.split(".")
        target = config
        for name in new_parents:
            target = target.setdefault(name, {})
        target.setdefault(new_leaf, value)
    return config


def _section(config: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    for name in path:
        config = config.get(name) if isinstance(config, dict) else None
    return config if isinstance(config, dict) else None
