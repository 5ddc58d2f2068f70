"""Crafter's episodes, not only its worlds, follow from the seed and the actions in any process.

crafter 1.8 keeps each chunk's objects in a ``set`` (``World._chunks``). Objects hash by identity,
so such a set iterates them in memory-address order, which changes from process to process. Every
10th step ``Env._balance_object`` lists a chunk's creatures from that set and despawns
``creatures[random.randint(0, len(creatures))]``: the same draw removes another creature in
another process, and from then on the creatures' moves, the random draws they make (one stream,
``World.random``, shared with the player's and the night noise's draws) and so the frames differ.

Here each chunk keeps its objects in insertion order: the same draws pick the same creature in
every process. The pick stays uniform over the chunk's creatures (a uniform index into any order
of them), the same objects exist and the same numbers are drawn, so the distribution of episodes
is crafter's own. The rest of crafter that orders objects is already deterministic: updates and
drawing follow ``World.objects`` (creation order), the chunks come in first-use order (a dict),
and ``World.nearby``'s set of objects is not read by crafter (only its materials are).
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterator, MutableSet

import crafter
from crafter import engine


class InsertionOrderedSet(MutableSet):
    """A set that iterates in the order its items came in: a dict's keys, whose order does not
    depend on the items' hashes (here, their addresses)."""

    def __init__(self) -> None:
        self._items: dict[Hashable, None] = {}

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Hashable) -> None:
        self._items[item] = None

    def discard(self, item: Hashable) -> None:
        self._items.pop(item, None)


def ordered_chunks() -> collections.defaultdict:
    return collections.defaultdict(InsertionOrderedSet)


class OrderedChunksWorld(engine.World):
    """crafter's world, its chunks keeping their objects in insertion order."""

    def reset(self, seed=None):
        super().reset(seed)
        self._chunks = ordered_chunks()


def order_chunks(game: crafter.Env) -> crafter.Env:
    """Make a new ``game``'s world an ``OrderedChunksWorld``. ``crafter.Env`` builds its world in
    its constructor and hands it to its views, so the class of that one world is switched (it adds
    no state) rather than crafter patched for every user. A new env's world holds no objects yet
    (``game.reset()`` resets the world, then fills it)."""
    game._world.__class__ = OrderedChunksWorld
    game._world._chunks = ordered_chunks()
    return game
