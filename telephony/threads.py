"""Blocking calls in worker threads that a component's ``stop()`` waits for.

Cancelling a task that awaits ``asyncio.to_thread`` cancels the await, not the thread: the thread
runs on with whatever it holds, such as a pooled database connection. The daemon disposes its
engine after stopping its components; a connection still checked out by such a thread is missed
by the dispose and left open until garbage collection. Components that run storage calls in
threads use :class:`WorkerThreads` and wait for it when they stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerThreads:
    """The worker threads a component started and has not seen finish."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread. Cancelling the caller does not cancel the future
        that tracks the thread (it is shielded), so :meth:`wait` still waits for it."""
        future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return await asyncio.shield(future)

    async def wait(self) -> None:
        """Until every thread started by :meth:`run` has returned (errors are the callers')."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


__all__ = ["WorkerThreads"]
