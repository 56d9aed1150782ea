"""One clock for every wait, poll, backoff and simulated delay.

Real targets use :class:`RealClock`. Offline simulations use :class:`VirtualClock`, whose
``sleep`` advances time instantly, so "poll every 30 s for up to 5 minutes" runs the same code
path in milliseconds. Nothing else in the project calls ``time.sleep``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Type, TypeVar

T = TypeVar("T")


class Clock:
    """Interface: ``now()`` (seconds, monotonic), ``wall()`` (epoch seconds), ``sleep(s)``."""

    def now(self) -> float:
        raise NotImplementedError

    def wall(self) -> float:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        raise NotImplementedError


class RealClock(Clock):
    """Wall-clock time. ``sleep`` can be cut short by :meth:`interrupt` (used on SIGTERM)."""

    def __init__(self) -> None:
        self._interrupted = threading.Event()

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._interrupted.wait(seconds)

    def interrupt(self) -> None:
        self._interrupted.set()


class VirtualClock(Clock):
    """Simulated time: ``sleep`` advances the clock at once. Thread-safe.

    ``start`` is the epoch the simulation begins at, so wall timestamps look real.
    """

    def __init__(self, start: Optional[float] = None) -> None:
        self._lock = threading.Lock()
        self._epoch = time.time() if start is None else start
        self._elapsed = 0.0

    def now(self) -> float:
        with self._lock:
            return self._elapsed

    def wall(self) -> float:
        with self._lock:
            return self._epoch + self._elapsed

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._elapsed += seconds


real_clock: Clock = RealClock()
"""Real time, always: the harness times steps and waits for real processes with it, even while
a simulation has made a virtual clock the default."""

_default: Clock = real_clock


def default_clock() -> Clock:
    return _default


def set_default_clock(clock: Clock) -> Clock:
    """Replace the process-wide clock; returns the previous one."""
    global _default
    previous, _default = _default, clock
    return previous


class WaitTimeout(TimeoutError):
    """A polled condition did not hold in time. Carries attempts and the last observation."""

    def __init__(self, description: str, timeout: float, attempts: int, last: object) -> None:
        super().__init__(
            f"timed out after {timeout:g}s waiting for {description} "
            f"({attempts} attempts, last result: {last!r})"
        )
        self.description = description
        self.timeout = timeout
        self.attempts = attempts
        self.last = last


@dataclass
class WaitResult:
    value: object
    attempts: int
    elapsed: float


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    description: str = "condition",
    clock: Optional[Clock] = None,
    on_attempt: Optional[Callable[[int, float, object], None]] = None,
    fatal: Tuple[Type[BaseException], ...] = (),
) -> WaitResult:
    """Poll ``condition`` until it returns a truthy value; raise :class:`WaitTimeout` otherwise.

    An exception from ``condition`` counts as a failed attempt (and is the "last result"), so
    a service that is not up yet does not end the wait early; exceptions of a ``fatal`` type
    end the wait at once (the process being waited for died, say).
    """
    clock = clock or default_clock()
    start = clock.now()
    attempts = 0
    last: object = None
    while True:
        attempts += 1
        try:
            last = condition()
        except fatal:
            raise
        except Exception as error:  # noqa: BLE001 - an attempt that raised is a failed attempt
            last = error
        elapsed = clock.now() - start
        if on_attempt:
            on_attempt(attempts, elapsed, last)
        if last and not isinstance(last, Exception):
            return WaitResult(last, attempts, elapsed)
        if elapsed >= timeout:
            raise WaitTimeout(description, timeout, attempts, last)
        clock.sleep(min(interval, max(timeout - elapsed, 0.0)) or interval)
