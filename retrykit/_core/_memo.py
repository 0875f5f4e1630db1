"""Bounded memories of values computed from a key: the oldest entry goes first."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections import OrderedDict

KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


def remember(memo: OrderedDict[KeyT, ValueT], key: KeyT, value: ValueT, limit: int) -> ValueT:
    """Keep ``value`` in ``memo`` under ``key`` and return it; past ``limit``, drop the oldest.

    A memory cleared whole when full saws between empty and full, and recomputes all it
    held after each clearing; dropping the oldest entry keeps its size flat. Lookups
    are a plain ``memo.get(key)``: an ``OrderedDict`` reads as fast as a dict.
    """
    memo[key] = value
    if len(memo) > limit:
        memo.popitem(last=False)
    return value
