"""A tiny discrete-event kernel: simulated time, a timer heap and generator processes.

Theory of operation
-------------------
Nothing here reads a clock. ``Kernel.now`` only moves inside :meth:`Kernel.run_until`, which pops
timers in ``(time, sequence)`` order, so two runs with the same inputs do the same things in the
same order (byte-identical output is a test).

A *process* is a generator. What it yields says what it waits for:

- a number: sleep that many simulated seconds;
- a :class:`Signal`: wait until someone fires it (the process receives the fired value);
- a :class:`Wait`: a signal with a timeout (the process receives the value, or ``None``).

``Process.interrupt(exc)`` cancels whatever the process waits for and throws ``exc`` into it at the
current time. Call flows use it for everything that can happen at any moment: the citizen hangs
up, an AMI ``Hangup`` arrives, the PBX restarts. Interrupts are delivered through the heap (never
re-entrantly), so a process may interrupt another from inside its own step.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("hotline.simulator.kernel")

ProcessGen = Generator[Any, Any, None]


class Timer:
    """A scheduled callback; ``cancel()`` makes it a no-op."""

    __slots__ = ("callback", "cancelled", "time")

    def __init__(self, time: float, callback: Callable[[], None]) -> None:
        self.time = time
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this timer."""
        self.cancelled = True


class Signal:
    """A one-shot event processes can wait for."""

    __slots__ = ("_waiters", "fired", "value")

    def __init__(self) -> None:
        self.fired = False
        self.value: Any = None
        self._waiters: list[Process] = []

    def fire(self, value: Any = None) -> None:
        """Wake every waiter with ``value`` (later waiters get it at once)."""
        if self.fired:
            return
        self.fired = True
        self.value = value
        waiters, self._waiters = self._waiters, []
        for proc in waiters:
            proc._wake(value)


@dataclass(frozen=True, slots=True)
class Wait:
    """Wait for ``signal`` at most ``timeout`` seconds (``None`` on timeout)."""

    signal: Signal
    timeout: float | None = None


class Process:
    """A running generator; see the module docstring."""

    __slots__ = ("_gen", "_kernel", "_signal", "_timer", "alive", "name")

    def __init__(self, kernel: Kernel, gen: ProcessGen, name: str) -> None:
        self._kernel = kernel
        self._gen = gen
        self.name = name
        self.alive = True
        self._timer: Timer | None = None
        self._signal: Signal | None = None

    def __repr__(self) -> str:
        return f"Process({self.name!r}, alive={self.alive})"

    def _clear_wait(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._signal is not None:
            waiters = self._signal._waiters
            if self in waiters:
                waiters.remove(self)
            self._signal = None

    def _wake(self, value: Any) -> None:
        self._clear_wait()
        self._timer = self._kernel.call_at(self._kernel.now, lambda: self._step(value, None))

    def _step(self, value: Any, exc: BaseException | None) -> None:
        self._timer = None
        if not self.alive:
            return
        kernel = self._kernel
        previous, kernel.current = kernel.current, self
        try:
            step = self._gen.throw(exc) if exc is not None else self._gen.send(value)
        except StopIteration:
            self.alive = False
            return
        except Interrupt:
            # An interrupt the flow chose not to handle ends it quietly.
            self.alive = False
            return
        finally:
            kernel.current = previous
        self._wait_for(step)

    def _wait_for(self, step: Any) -> None:
        kernel = self._kernel
        if isinstance(step, Signal):
            step = Wait(step)
        if isinstance(step, Wait):
            signal = step.signal
            if signal.fired:
                self._timer = kernel.call_at(kernel.now, lambda: self._step(signal.value, None))
                return
            signal._waiters.append(self)
            self._signal = signal
            if step.timeout is not None:
                self._timer = kernel.call_at(kernel.now + step.timeout, self._timeout)
            return
        if isinstance(step, (int, float)):
            delay = max(0.0, float(step))
            self._timer = kernel.call_at(kernel.now + delay, lambda: self._step(None, None))
            return
        raise TypeError(f"process {self.name}: cannot wait for {step!r}")

    def _timeout(self) -> None:
        self._timer = None
        self._clear_wait()
        self._step(None, None)

    def interrupt(self, exc: Interrupt) -> None:
        """Throw ``exc`` into the process at the current time."""
        if not self.alive:
            return
        self._clear_wait()
        self._timer = self._kernel.call_at(self._kernel.now, lambda: self._step(None, exc))

    def kill(self) -> None:
        """Stop the process without running any more of it."""
        self._clear_wait()
        self.alive = False
        self._gen.close()


class Interrupt(Exception):
    """Base of the exceptions thrown into processes."""


class Kernel:
    """Simulated clock and timer heap."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0
        self.current: Process | None = None

    def call_at(self, time: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` at simulated ``time`` (not before the current time)."""
        timer = Timer(max(time, self.now), callback)
        self._seq += 1
        heapq.heappush(self._heap, (timer.time, self._seq, timer))
        return timer

    def spawn(self, gen: ProcessGen, name: str, *, at: float | None = None) -> Process:
        """Start a process at ``at`` (default: now)."""
        proc = Process(self, gen, name)
        proc._timer = self.call_at(self.now if at is None else at, lambda: proc._step(None, None))
        return proc

    def next_time(self) -> float | None:
        """Time of the next live timer, or None."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_until(self, time: float) -> None:
        """Run every timer due at or before ``time``; the clock ends at ``time``."""
        heap = self._heap
        while heap and heap[0][0] <= time:
            when, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self.now = when
            timer.callback()
        if time > self.now:
            self.now = time

    def clear(self) -> None:
        """Drop every timer (used by a PBX restart after the processes were stopped)."""
        self._heap.clear()
