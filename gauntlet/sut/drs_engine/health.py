"""Post-recovery health checks: is each recovered EC2 instance running?

One ``DescribeInstanceStatus`` call (``IncludeAllInstances=True``, so pending and stopped
instances are listed too) covers every instance under check. The engine polls at the wave's
``HealthCheck.IntervalSeconds`` until ``TimeoutSeconds``; :func:`verdict` decides each poll.
"""

from __future__ import annotations

from typing import Dict, List

from botocore.exceptions import BotoCoreError, ClientError

from gauntlet.sut.drs_engine.retry import describe_error

WAITING_STATES = ("pending", "not-found")
DEAD_STATES = ("shutting-down", "terminated", "stopping", "stopped")


class HealthCheckError(RuntimeError):
    """EC2 could not be asked about the instances (after botocore's retries)."""


def instance_states(ec2, instance_ids: List[str]) -> Dict[str, str]:
    """instance id -> state name; ``not-found`` for ids EC2 does not (yet) know."""
    if not instance_ids:
        return {}
    try:
        return _states(ec2, instance_ids)
    except ClientError as error:
        if error.response["Error"]["Code"] != "InvalidInstanceID.NotFound":
            raise HealthCheckError(f"ec2 DescribeInstanceStatus for {', '.join(instance_ids)} failed: "
                                   f"{describe_error(error)}") from error
    # A just-launched instance may not be visible yet: ask one by one so the others still count.
    states = {}
    for instance_id in instance_ids:
        try:
            states.update(_states(ec2, [instance_id]))
        except ClientError as error:
            if error.response["Error"]["Code"] != "InvalidInstanceID.NotFound":
                raise HealthCheckError(f"ec2 DescribeInstanceStatus for {instance_id} failed: "
                                       f"{describe_error(error)}") from error
            states[instance_id] = "not-found"
    return states


def verdict(instance_id: str, state: str, elapsed: float, timeout: float):
    """``("PASSED", "")``, ``("PENDING", "")`` or ``("FAILED", reason)`` for one poll."""
    if state == "running":
        return "PASSED", ""
    if state in DEAD_STATES:
        return "FAILED", f"instance {instance_id} is {state}, not running"
    if elapsed >= timeout:
        return "FAILED", f"instance {instance_id} not running after {timeout:g} s (last state: {state})"
    return "PENDING", ""


def _states(ec2, instance_ids: List[str]) -> Dict[str, str]:
    states = {instance_id: "not-found" for instance_id in instance_ids}
    request = {"InstanceIds": instance_ids, "IncludeAllInstances": True}
    while True:
        try:
            page = ec2.describe_instance_status(**request)
        except BotoCoreError as error:
            raise HealthCheckError(f"ec2 DescribeInstanceStatus for {', '.join(instance_ids)} failed: "
                                   f"{describe_error(error)}") from error
        for status in page.get("InstanceStatuses", []):
            states[status["InstanceId"]] = status["InstanceState"]["Name"]
        if not page.get("NextToken"):
            return states
        request["NextToken"] = page["NextToken"]
