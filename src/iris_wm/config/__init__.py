"""Dataclass configs are the source of truth; these helpers validate user data against them.

Hydra YAML files (the presets) live beside this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from iris_wm.errors import IrisError

T = TypeVar("T")


def build_config(cls: type[T], data: Mapping[str, Any] | T | None = None) -> T:
    """A ``cls`` instance from defaults overridden by ``data``; unknown keys and wrong types raise
    IrisError naming the key."""
    if isinstance(data, cls):
        check_bounds(data)
        return data
    try:
        merged = OmegaConf.merge(OmegaConf.structured(cls), OmegaConf.create(dict(data or {})))
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise IrisError(describe_config_error(error)) from None
    check_bounds(config)
    return config


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


# -- bounds declared on dataclass fields -------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    holds: Callable[[Any], bool]
    description: str  # what a valid value is: "at least 1", "in [0, 1]"


def _bounded(default: Any, bound: Bound) -> Any:
    return field(default=default, metadata={"bound": bound})


def at_least(minimum: float, default: Any) -> Any:
    """A field whose values must be >= ``minimum`` (None, where the type allows it, means unset)."""
    return _bounded(default, Bound(lambda value: value >= minimum, f"at least {minimum}"))


def positive(default: Any) -> Any:
    return _bounded(default, Bound(lambda value: value > 0, "positive"))


def probability(default: Any) -> Any:
    return _bounded(default, Bound(lambda value: 0 <= value <= 1, "in [0, 1]"))


def one_of(choices: tuple[str, ...], default: Any) -> Any:
    return _bounded(default, Bound(lambda value: value in choices, f"one of {', '.join(choices)}"))


def check_bounds(config: Any, prefix: str = "") -> None:
    """Every bounded field of ``config`` and of the dataclasses inside it, or an IrisError naming the
    first key out of range, what it must be, and its default."""
    for f in fields(config):
        value, key = getattr(config, f.name), f"{prefix}{f.name}"
        if is_dataclass(value):
            check_bounds(value, f"{key}.")
            continue
        bound = f.metadata.get("bound")
        if bound is not None and value is not None and not bound.holds(value):
            default = "" if f.default is MISSING else f" (default {f.default})"
            raise IrisError(f"{key}={value} is out of range: it must be {bound.description}{default}")
