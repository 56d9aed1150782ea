"""Polling helpers named for their behaviour: ``eventually``, ``consistently``, ``retry``.

Every wait goes through a :class:`~gauntlet.clock.Clock`, so a virtual clock runs "5 attempts,
30 s apart" instantly. None of them raise on a failed condition: each returns a
:class:`PollResult` with every attempt counted, because reports show attempts, not just verdicts.
An attempt that raises is a failed attempt; its message is kept as ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from gauntlet.clock import Clock, WaitTimeout, default_clock, wait_until

Condition = Callable[[], object]


@dataclass(frozen=True)
class PollResult:
    passed: bool
    attempts: int
    elapsed: float
    error: Optional[str] = None  # the last attempt's exception, if it raised

    def __bool__(self) -> bool:
        return self.passed


def _attempt(condition: Condition) -> "tuple[bool, Optional[str]]":
    """One call of ``condition``: (held, error message if it raised)."""
    try:
        return bool(condition()), None
    except Exception as error:  # noqa: BLE001 - a raising attempt is a failed attempt
        return False, describe_error(error)


def describe_error(error: BaseException) -> str:
    """A one-line message for an exception (type name when it carries no text)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def eventually(condition: Condition, timeout: float, interval: float,
               clock: Optional[Clock] = None) -> PollResult:
    """Poll until ``condition`` holds or ``timeout`` seconds pass (at least one attempt)."""
    if interval <= 0:
        raise ValueError(f"interval must be > 0, got {interval}")
    clock = clock or default_clock()
    try:
        result = wait_until(condition, timeout=timeout, interval=interval, clock=clock)
    except WaitTimeout as timeout_error:
        last = timeout_error.last
        error = describe_error(last) if isinstance(last, BaseException) else None
        return PollResult(False, timeout_error.attempts, timeout_error.timeout, error)
    return PollResult(True, result.attempts, result.elapsed)


def consistently(condition: Condition, duration: float, interval: float,
                 clock: Optional[Clock] = None) -> PollResult:
    """Check that ``condition`` holds at every attempt for ``duration`` seconds.

    Stops at the first attempt that fails; attempts are made at 0, interval, 2*interval, ...
    up to and including ``duration``.
    """
    clock = clock or default_clock()
    start = clock.now()
    attempts = 0
    while True:
        attempts += 1
        held, error = _attempt(condition)
        elapsed = clock.now() - start
        if not held:
            return PollResult(False, attempts, elapsed, error)
        if elapsed >= duration:
            return PollResult(True, attempts, elapsed)
        clock.sleep(min(interval, duration - elapsed) if interval > 0 else duration - elapsed)


def retry(condition: Condition, max_attempts: int, delay_seconds: float,
          clock: Optional[Clock] = None) -> PollResult:
    """Try ``condition`` up to ``max_attempts`` times, ``delay_seconds`` apart (a workflow retry)."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
    clock = clock or default_clock()
    start = clock.now()
    error: Optional[str] = None
    for attempt in range(1, max_attempts + 1):
        held, error = _attempt(condition)
        if held:
            return PollResult(True, attempt, clock.now() - start)
        if attempt < max_attempts:
            clock.sleep(delay_seconds)
    return PollResult(False, max_attempts, clock.now() - start, error)
