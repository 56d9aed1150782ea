"""Small AWS helpers shared by the adapters: clients, run tags, error codes, retries.

Clients are plain boto3: offline runs point them at the moto endpoint with ``AWS_ENDPOINT_URL``,
so the same code runs unchanged against a real account.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Optional, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from gauntlet.clock import Clock, default_clock, wait_until

T = TypeVar("T")

RUN_ID_TAG = "gauntlet:run-id"
EXPIRES_TAG = "gauntlet:expires"

# Standard retry mode backs off on throttling and transient 5xx errors.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def client(service: str, region: Optional[str] = None):
    """A boto3 client with standard retries; ``region=None`` uses the environment's region."""
    return boto3.client(service, region_name=region, config=CLIENT_CONFIG)


def iso_utc(epoch_seconds: float) -> str:
    """``2026-11-21T05:46:00Z``: the timestamp format of every tag Gauntlet writes."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run_tags(run_id: str, ttl_hours: float = 6, clock: Optional[Clock] = None) -> list[dict]:
    """The tags every cloud resource of a run carries, so a reaper can find and expire it."""
    clock = clock or default_clock()
    return [
        {"Key": RUN_ID_TAG, "Value": run_id},
        {"Key": EXPIRES_TAG, "Value": iso_utc(clock.wall() + ttl_hours * 3600)},
    ]


def tag_dict(tags: Optional[list[dict]]) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` -> ``{k: v}``."""
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def error_code(error: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code", "")
    return ""


def retrying(
    call: Callable[[], T],
    retry_if: Callable[[ClientError], bool],
    timeout: float,
    description: str,
    interval: float = 5.0,
    clock: Optional[Clock] = None,
) -> T:
    """Call until it succeeds or fails with an error ``retry_if`` rejects (raised at once).

    For AWS eventual consistency: a new instance profile is not yet visible to EC2, a
    security group still has an ENI of a terminated instance. Raises ``WaitTimeout`` (naming
    the last error) when the retriable error persists.
    """
    outcome: dict = {}

    def attempt() -> bool:
        try:
            outcome["value"] = call()
        except ClientError as error:
            if retry_if(error):
                raise  # a failed attempt: wait_until polls again
            outcome["error"] = error
        return True

    wait_until(attempt, timeout, interval, description, clock=clock)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
