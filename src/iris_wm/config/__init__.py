"""Dataclass configs are the source of truth; these helpers validate user data against them.

Hydra YAML files (the presets) live beside this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from iris_wm.errors import IrisError

T = TypeVar("T")


def build_config(cls: type[T], data: Mapping[str, Any] | T | None = None) -> T:
    """A ``cls`` instance from defaults overridden by ``data``; unknown keys and wrong types raise
    IrisError naming the key."""
    if isinstance(data, cls):
        return data
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), OmegaConf.create(dict(data or {})))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise IrisError(describe_config_error(error)) from None


def describe_config_error(error: OmegaConfBaseException) -> str:
    """One line from OmegaConf's multi-line message: what is wrong, at which key, and the fix."""
    message = str(error).splitlines()[0]
    key = getattr(error, "full_key", None)
    where = f" (at '{key}')" if key else ""
    return f"invalid configuration: {message}{where}; fix or remove that key"


def config_to_dict(config: Any) -> dict[str, Any]:
    return asdict(config)


def tied(name: str, value: Any, follower_name: str, follower: Any) -> Any:
    """The value of a key that follows another unless set: ``follower`` when given (it must then
    agree), else ``value``."""
    if follower is None or follower == value:
        return value
    raise IrisError(f"{follower_name}={follower} differs from {name}={value}, and the two are tied; "
                    f"set only {name}, or the same value for both")
