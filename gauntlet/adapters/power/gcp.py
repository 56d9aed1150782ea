"""GCP power control (google-cloud-compute): stop/start instances, hard stop for a crash.

Semantics (see matrix.py): stop = ``instances.stop`` (ACPI shutdown; Compute Engine forces the
instance off after its own timeout); start = ``instances.start`` (``instances.resume`` for a
SUSPENDED instance); crash ``destroy`` = ``instances.stop`` with ``no_graceful_shutdown=True``,
the hardest stop that leaves the instance off (``instances.reset`` is immediate but restarts the
instance at once); graceful restart = stop then start. Each ExtendedOperation is polled for
``done()`` through the clock, then ``instances.get`` until the status.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from gauntlet.adapters.power.registry import ApiPowerControl, Pending

STATUSES = {
    "RUNNING": "running",
    "TERMINATED": "stopped",
    "STOPPED": "stopped",
    "SUSPENDED": "paused",
    "PROVISIONING": "unknown",
    "STAGING": "unknown",
    "STOPPING": "unknown",
    "SUSPENDING": "unknown",
    "REPAIRING": "unknown",
    "PENDING_STOP": "unknown",
}


class GcpPowerControl(ApiPowerControl):
    """``client``: a compute_v1.InstancesClient; ``node_ids``: node name -> instance name (or
    ``"zone/instance"`` for an instance outside ``zone``)."""

    provider = "gcp"
    connection_settings = ("credentials",)

    def __init__(self, client: Any, node_ids: Any, *, project: str, zone: str = "",
                 **options: Any) -> None:
        super().__init__(client, node_ids, **options)
        self.project = project
        self.zone = zone
        for node in self.node_ids:
            self._where(self.node_ids[node])  # every instance resolves to a zone now, not later

    @classmethod
    def connect(cls, credentials: Any = None) -> Any:
        from google.cloud import compute_v1

        return compute_v1.InstancesClient(credentials=credentials)

    def _where(self, pid: str) -> Dict[str, str]:
        zone, _, name = str(pid).rpartition("/")
        zone = zone or self.zone
        if not zone:
            raise ValueError(f"gcp: instance {pid!r} has no zone: pass zone= or map the node to "
                             "'zone/instance'")
        return {"project": self.project, "zone": zone, "instance": name}

    def _read_state(self, pid: str) -> str:
        instance = self.client.get(**self._where(pid))
        return STATUSES.get(str(instance.status), "unknown")

    def _request_stop(self, pid: str) -> Optional[Pending]:
        return self.client.stop(**self._where(pid))

    def _request_start(self, pid: str) -> Optional[Pending]:
        return self.client.start(**self._where(pid))

    def _request_resume(self, pid: str) -> Optional[Pending]:
        return self.client.resume(**self._where(pid))

    def _request_power_cut(self, pid: str) -> Optional[Pending]:
        return self.client.stop(request={**self._where(pid), "no_graceful_shutdown": True})
