"""Asking the user's ``reconcile`` function, bounded by the call's deadline.

A reconcile function answers True (the write took effect), False (it certainly did not)
or None (it cannot tell). One that raises, hangs past the time left to the deadline, or
answers anything else counts as None, with a line in the log: it must never make the
call worse than it would have been without it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio

from retrykit._observe._logging import logger

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def _answer(value: object, func: object) -> bool | None:
    if value is True or value is False:
        return value
    if value is not None:
        logger.warning("retrykit reconcile %r answered %r; read as 'cannot tell'", func, value)
    return None


def reconcile_in_thread(
    func: Callable[[Any], object] | None, request: object, time_left: float | None
) -> bool | None:
    """Call ``func(request)`` on a worker thread; wait at most ``time_left`` for its answer."""
    if func is None:
        return None
    result: list[object] = []

    def ask() -> None:
        try:
            result.append(func(request))
        except Exception:  # noqa: BLE001 - a broken reconcile means "cannot tell"
            logger.exception("retrykit reconcile %r raised; read as 'cannot tell'", func)
            result.append(None)

    worker = threading.Thread(target=ask, name="retrykit-reconcile", daemon=True)
    worker.start()
    worker.join(None if time_left is None else max(time_left, 0.0))
    if not result:
        logger.warning("retrykit reconcile %r did not answer before the deadline", func)
        return None
    return _answer(result[0], func)


async def reconcile_async(
    func: Callable[[Any], Awaitable[object]] | None, request: object, time_left: float | None
) -> bool | None:
    """Await ``func(request)``, cancelled if it runs past ``time_left``."""
    if func is None:
        return None
    answered = False
    value: object = None
    with anyio.move_on_after(None if time_left is None else max(time_left, 0.0)):
        try:
            value = await func(request)
        except Exception:  # noqa: BLE001 - a broken reconcile means "cannot tell"
            logger.exception("retrykit reconcile %r raised; read as 'cannot tell'", func)
        answered = True
    if not answered:
        logger.warning("retrykit reconcile %r did not answer before the deadline", func)
        return None
    return _answer(value, func)
