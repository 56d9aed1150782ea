"""gauntlet.clock: real and virtual clocks, and wait_until's attempt accounting."""

from __future__ import annotations

import threading
import time

import pytest

from gauntlet import clock as clock_module
from gauntlet.clock import (
    RealClock,
    VirtualClock,
    WaitResult,
    WaitTimeout,
    default_clock,
    set_default_clock,
    wait_until,
)

# --- VirtualClock -------------------------------------------------------------------------------

def test_virtual_clock_starts_at_zero_and_sleep_advances_instantly():
    clock = VirtualClock(start=1_000_000.0)
    assert clock.now() == 0.0
    assert clock.wall() == 1_000_000.0
    before = time.monotonic()
    clock.sleep(3600)
    assert time.monotonic() - before < 0.5
    assert clock.now() == 3600
    assert clock.wall() == 1_000_000.0 + 3600


def test_virtual_clock_ignores_zero_and_negative_advances():
    clock = VirtualClock(start=0.0)
    clock.advance(5)
    clock.advance(0)
    clock.advance(-10)
    clock.sleep(-1)
    assert clock.now() == 5


def test_virtual_clock_default_epoch_is_now():
    before = time.time()
    clock = VirtualClock()
    assert before - 1 <= clock.wall() <= time.time() + 1


def test_virtual_clock_is_thread_safe():
    clock = VirtualClock(start=0.0)

    def worker():
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert clock.now() == 8000


# --- RealClock ----------------------------------------------------------------------------------

def test_real_clock_now_is_monotonic_and_wall_is_epoch():
    clock = RealClock()
    first = clock.now()
    assert clock.now() >= first
    assert abs(clock.wall() - time.time()) < 1


def test_real_clock_sleep_waits_roughly_the_time():
    clock = RealClock()
    started = time.monotonic()
    clock.sleep(0.05)
    assert 0.04 <= time.monotonic() - started < 1.0


def test_real_clock_sleep_of_zero_or_less_returns_at_once():
    clock = RealClock()
    started = time.monotonic()
    clock.sleep(0)
    clock.sleep(-5)
    assert time.monotonic() - started < 0.5


def test_real_clock_interrupt_cuts_sleep_short():
    clock = RealClock()
    timer = threading.Timer(0.05, clock.interrupt)
    timer.start()
    try:
        started = time.monotonic()
        clock.sleep(30)
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
    # once interrupted, later sleeps return at once too
    started = time.monotonic()
    clock.sleep(30)
    assert time.monotonic() - started < 1


# --- default clock ------------------------------------------------------------------------------

def test_set_default_clock_returns_previous_and_is_used_by_wait_until():
    virtual = VirtualClock(start=0.0)
    previous = set_default_clock(virtual)
    try:
        assert default_clock() is virtual
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, timeout=600, interval=60)
        assert virtual.now() == 600  # the default (virtual) clock did the sleeping
    finally:
        assert set_default_clock(previous) is virtual
    assert default_clock() is previous
    assert clock_module.default_clock() is previous


# --- wait_until ---------------------------------------------------------------------------------

def test_wait_until_returns_first_truthy_value_with_attempts_and_elapsed():
    clock = VirtualClock(start=0.0)
    values = iter([None, 0, "", [], "ready"])
    result = wait_until(lambda: next(values), timeout=100, interval=10, clock=clock)
    assert isinstance(result, WaitResult)
    assert result.value == "ready"
    assert result.attempts == 5
    assert result.elapsed == 40


def test_wait_until_succeeds_on_first_attempt_without_sleeping():
    clock = VirtualClock(start=0.0)
    result = wait_until(lambda: 42, timeout=10, interval=1, clock=clock)
    assert (result.value, result.attempts, result.elapsed) == (42, 1, 0)
    assert clock.now() == 0


def test_virtual_five_minute_wait_every_30s_takes_11_attempts_and_no_wall_time():
    clock = VirtualClock(start=0.0)
    calls = []
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: calls.append(clock.now()), timeout=300, interval=30,
                   description="the replication to reach CONTINUOUS", clock=clock)
    assert time.monotonic() - started < 0.5
    error = caught.value
    assert error.attempts == 11
    assert calls == [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300]
    assert error.timeout == 300
    assert error.description == "the replication to reach CONTINUOUS"
    assert error.last is None
    assert clock.now() == 300
    message = str(error)
    assert "timed out after 300s" in message
    assert "the replication to reach CONTINUOUS" in message
    assert "11 attempts" in message
    assert "last result: None" in message


def test_last_sleep_is_trimmed_to_the_remaining_time():
    clock = VirtualClock(start=0.0)
    seen = []
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: seen.append(clock.now()), timeout=100, interval=30, clock=clock)
    assert seen == [0, 30, 60, 90, 100]
    assert caught.value.attempts == 5
    assert clock.now() == 100


def test_zero_timeout_means_exactly_one_attempt():
    clock = VirtualClock(start=0.0)
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=0, interval=1, clock=clock)
    assert caught.value.attempts == 1
    assert caught.value.last is False


def test_exceptions_from_condition_count_as_failed_attempts():
    clock = VirtualClock(start=0.0)
    state = {"n": 0}

    def condition():
        state["n"] += 1
        if state["n"] < 4:
            raise ConnectionRefusedError(f"not up yet ({state['n']})")
        return {"status": "up"}

    result = wait_until(condition, timeout=60, interval=5, clock=clock)
    assert result.value == {"status": "up"}
    assert result.attempts == 4
    assert result.elapsed == 15


def test_timeout_carries_the_last_exception_as_last_result():
    clock = VirtualClock(start=0.0)

    def condition():
        raise RuntimeError("connection refused")

    with pytest.raises(WaitTimeout) as caught:
        wait_until(condition, timeout=10, interval=2, description="the API", clock=clock)
    error = caught.value
    assert error.attempts == 6
    assert isinstance(error.last, RuntimeError)
    assert "connection refused" in str(error)
    assert isinstance(error, TimeoutError)


def test_last_result_is_the_last_observed_value():
    clock = VirtualClock(start=0.0)
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: [] if clock.now() < 20 else 0, timeout=20, interval=10, clock=clock)
    assert caught.value.last == 0
    assert caught.value.attempts == 3


def test_returned_exception_object_is_not_success():
    """A condition that *returns* an exception (truthy object) is still a failed attempt."""
    clock = VirtualClock(start=0.0)
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: ValueError("bad"), timeout=4, interval=2, clock=clock)
    assert caught.value.attempts == 3


def test_on_attempt_is_called_for_every_attempt_with_number_elapsed_and_result():
    clock = VirtualClock(start=0.0)
    seen = []
    values = iter([None, RuntimeError("boom"), "ok"])

    def condition():
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    result = wait_until(condition, timeout=60, interval=7, clock=clock,
                        on_attempt=lambda n, elapsed, last: seen.append((n, elapsed, last)))
    assert result.attempts == 3
    assert [(n, e) for n, e, _ in seen] == [(1, 0), (2, 7), (3, 14)]
    assert seen[0][2] is None
    assert isinstance(seen[1][2], RuntimeError)
    assert seen[2][2] == "ok"


def test_on_attempt_is_called_on_the_final_failing_attempt_too():
    clock = VirtualClock(start=0.0)
    seen = []
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, timeout=3, interval=1, clock=clock,
                   on_attempt=lambda n, elapsed, last: seen.append(n))
    assert seen == [1, 2, 3, 4]


def test_wait_until_with_real_clock_polls_until_true():
    clock = RealClock()
    flag = threading.Event()
    timer = threading.Timer(0.05, flag.set)
    timer.start()
    try:
        result = wait_until(flag.is_set, timeout=5, interval=0.01, clock=clock)
    finally:
        timer.cancel()
    assert result.value is True
    assert result.attempts >= 2
    assert result.elapsed < 5


def test_wait_until_with_real_clock_times_out_in_about_the_timeout():
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=0.1, interval=0.02, clock=RealClock())
    took = time.monotonic() - started
    assert 0.09 <= took < 1.0
    assert caught.value.attempts >= 3
