"""A registry of named plug-ins (agent kinds, environment kinds).

Built-in plug-ins are modules of this package that register themselves when imported; other
packages add theirs through an entry point of the registry's group (or by calling ``register``
before the command runs). Modules are imported on first look-up, so that ``import iris_wm`` stays
light and a plug-in whose optional dependencies are missing only fails when it is chosen.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import Generic, TypeVar

from iris_wm.errors import IrisError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str, built_in: dict[str, str], entry_point_group: str) -> None:
        self.what = what  # "agent kind": how errors name an entry
        self.built_in = built_in  # name -> module that registers it
        self.entry_point_group = entry_point_group
        self._records: dict[str, T] = {}
        self._unavailable: dict[str, str] = {}  # name -> why its module failed to import
        self._loaded = False

    def register(self, name: str, record: T) -> T:
        self._records[name] = record
        self._unavailable.pop(name, None)
        return record

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for name, module in self.built_in.items():
            if name not in self._records:
                self._import(name, module)
        for entry_point in metadata.entry_points(group=self.entry_point_group):
            entry_point.load()

    def _import(self, name: str, module: str) -> None:
        try:
            import_module(module)
        except IrisError as error:  # a missing optional dependency, said with its fix
            self._unavailable[name] = str(error)

    def names(self) -> list[str]:
        self._load()
        return list(self._records)

    def records(self) -> dict[str, T]:
        self._load()
        return dict(self._records)

    def get(self, name: str) -> T:
        if name in self.built_in and name not in self._records and name not in self._unavailable:
            self._import(name, self.built_in[name])  # this one alone: a family's dependencies are its own
        if name not in self._records:
            self._load()
        if name in self._records:
            return self._records[name]
        if name in self._unavailable:
            raise IrisError(f"{self.what} {name!r} is not available: {self._unavailable[name]}")
        raise IrisError(f"unknown {self.what} {name!r}; choose one of: {', '.join(self.names())}")
