"""Retries: botocore's standard retry mode for every AWS call, with its backoff on our clock.

Throttling and network errors are retried by botocore itself (``RETRY_CONFIG``: standard mode,
3 retries after the first attempt, exponential backoff with jitter). botocore would sleep with
``time.sleep``; :func:`use_clock_for_backoff` swaps the client's retry handler for one that asks
botocore how long to wait, waits that long on the Gauntlet clock, then tells botocore to retry at
once. Offline that wait is virtual; on a real target it is real. Attempts and delays are
unchanged.

The one hand-written retry is :func:`retry_write`, for execution-history writes: an audit record
must not be lost to a transient DynamoDB failure that outlived botocore's own retries.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional, TypeVar

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.retries import standard

from gauntlet.clock import Clock, default_clock

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 3
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                      connect_timeout=10, read_timeout=30)

#: errors after which a request may or may not have been carried out
AMBIGUOUS_ERRORS = (ReadTimeoutError, ConnectionClosedError)
#: errors worth another history write once botocore has given up
RETRYABLE_WRITE_CODES = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException",
}
NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError) + AMBIGUOUS_ERRORS


class RetriesExhausted(RuntimeError):
    """A call still failed after every attempt; the message names the operation and target."""


class ClockBackoff:
    """A ``needs-retry`` handler: botocore's standard decision, the wait done on our clock."""

    def __init__(self, decide: Callable[..., Optional[float]], clock: Callable[[], Clock]) -> None:
        self._decide = decide
        self._clock = clock

    def __call__(self, **kwargs):
        delay = self._decide(**kwargs)
        if delay is None or delay is False:
            return delay
        attempts = kwargs.get("attempts")
        log.debug("retrying %s (attempt %s) after %.2f s", kwargs.get("operation").name, attempts, delay)
        self._clock().sleep(delay)
        return 0  # botocore sleeps 0 s, then retries


def use_clock_for_backoff(client, clock: Callable[[], Clock] = default_clock):
    """Route the client's retry backoff through ``clock()`` (resolved at each retry)."""
    event = client.meta.service_model.service_id.hyphenize()
    unique_id = f"retry-config-{event}"
    client.meta.events.unregister(f"needs-retry.{event}", unique_id=unique_id)
    total = client.meta.config.retries.get("total_max_attempts", MAX_ATTEMPTS + 1)
    handler = standard.register_retry_handler(client, max_attempts=total)
    client.meta.events.unregister(f"needs-retry.{event}", unique_id=unique_id)
    client.meta.events.register(f"needs-retry.{event}", ClockBackoff(handler.needs_retry, clock),
                                unique_id=unique_id)
    return client


def attempts_made(error: Exception) -> int:
    """How many attempts botocore made before raising ``error`` (1 if it cannot tell)."""
    if isinstance(error, ClientError):
        return int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
    return MAX_ATTEMPTS + 1 if isinstance(error, NETWORK_ERRORS) else 1


def describe_error(error: Exception) -> str:
    """``Code: message`` for AWS errors, the text otherwise."""
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'Error')}: {detail.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"


def retry_write(write: Callable[[], T], what: str, clock: Optional[Clock] = None,
                attempts: int = 3, base_delay: float = 0.5) -> T:
    """Run a DynamoDB write; on a transient failure wait (clock) and try again, doubling the wait.

    Raises :class:`RetriesExhausted` naming ``what`` once ``attempts`` writes have failed. Other
    errors (a failed condition, a validation error) propagate at once.
    """
    clock = clock or default_clock()
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in RETRYABLE_WRITE_CODES:
                raise
            last: Exception = error
        except NETWORK_ERRORS as error:
            last = error
        if attempt < attempts:
            delay = base_delay * 2 ** (attempt - 1)
            log.warning("history write %s failed (%s); retry %d in %.1f s",
                        what, describe_error(last), attempt, delay)
            clock.sleep(delay)
    raise RetriesExhausted(f"history write {what} failed after {attempts} attempts: "
                           f"{describe_error(last)}") from last
