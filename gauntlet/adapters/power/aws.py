"""AWS power control (boto3 EC2): stop/start instances, hard stop for a crash.

Semantics (see matrix.py): stop = ``stop_instances`` (clean guest shutdown); start =
``start_instances``; crash ``destroy`` = ``stop_instances(Force=True)``, the power-loss analogue
(terminating would delete the node); graceful restart = stop then start. Every change is
waited for by polling ``describe_instances`` (boto3's waiters sleep; Gauntlet's clock does not).
"""

from __future__ import annotations

from typing import Any, Optional

from gauntlet.adapters.power.registry import ApiPowerControl, Pending

STATES = {
    "running": "running",
    "stopped": "stopped",
    "terminated": "stopped",  # off for good: start_node then fails with EC2's own error
    "pending": "unknown",
    "stopping": "unknown",
    "shutting-down": "unknown",
}


class AwsPowerControl(ApiPowerControl):
    """``client``: a boto3 EC2 client; ``node_ids``: node name -> instance id."""

    provider = "aws"
    connection_settings = ("region", "profile", "endpoint_url")

    @classmethod
    def connect(cls, region: Optional[str] = None, profile: Optional[str] = None,
                endpoint_url: Optional[str] = None) -> Any:
        import boto3

        session = boto3.session.Session(profile_name=profile, region_name=region)
        return session.client("ec2", endpoint_url=endpoint_url)

    def _read_state(self, pid: str) -> str:
        response = self.client.describe_instances(InstanceIds=[pid])
        instances = [i for r in response.get("Reservations", []) for i in r.get("Instances", [])]
        if not instances:
            return "unknown"
        return STATES.get(instances[0]["State"]["Name"], "unknown")

    def _request_stop(self, pid: str) -> Optional[Pending]:
        self.client.stop_instances(InstanceIds=[pid])
        return None

    def _request_start(self, pid: str) -> Optional[Pending]:
        self.client.start_instances(InstanceIds=[pid])
        return None

    def _request_power_cut(self, pid: str) -> Optional[Pending]:
        self.client.stop_instances(InstanceIds=[pid], Force=True)
        return None
