"""Azure power control (azure-mgmt-compute): power off/start VMs, non-graceful power-off for a crash.

Semantics (see matrix.py): stop = ``begin_power_off(skip_shutdown=False)``: the VM is off but
stays allocated (same host, fast start; still billed). ``deallocate=True`` uses
``begin_deallocate`` instead (releases the compute; the VM may come back on another host).
start = ``begin_start``; crash ``destroy`` = ``begin_power_off(skip_shutdown=True)``; graceful
restart = stop then start (a power cycle, not ``begin_restart``). Each long-running operation's
poller is polled for ``done()`` through the clock, then ``instance_view`` until the power state.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

from gauntlet.adapters.power.registry import ApiPowerControl, Pending

POWER_STATES = {
    "running": "running",
    "stopped": "stopped",
    "deallocated": "stopped",
    "starting": "unknown",
    "stopping": "unknown",
    "deallocating": "unknown",
}


class AzurePowerControl(ApiPowerControl):
    """``client``: a ComputeManagementClient; ``node_ids``: node name -> VM name (or
    ``"resource-group/vm-name"`` for a VM outside ``resource_group``)."""

    provider = "azure"
    connection_settings = ("subscription_id", "credential")

    def __init__(self, client: Any, node_ids: Any, *, resource_group: str = "",
                 deallocate: bool = False, **options: Any) -> None:
        super().__init__(client, node_ids, **options)
        self.resource_group = resource_group
        self.deallocate = deallocate
        for node in self.node_ids:
            self._vm(self.node_ids[node])  # every VM resolves to a resource group now, not later

    @classmethod
    def connect(cls, subscription_id: str, credential: Any = None) -> Any:
        from azure.mgmt.compute import ComputeManagementClient

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return ComputeManagementClient(credential, subscription_id)

    def _vm(self, pid: str) -> Tuple[str, str]:
        group, _, name = str(pid).rpartition("/")
        group = group or self.resource_group
        if not group:
            raise ValueError(f"azure: VM {pid!r} has no resource group: pass resource_group= or "
                             "map the node to 'resource-group/vm-name'")
        return group, name

    def _read_state(self, pid: str) -> str:
        view = self.client.virtual_machines.instance_view(*self._vm(pid))
        for status in view.statuses or []:
            code = status.code or ""
            if code.startswith("PowerState/"):
                return POWER_STATES.get(code.split("/", 1)[1], "unknown")
        return "unknown"

    def _request_stop(self, pid: str) -> Optional[Pending]:
        if self.deallocate:
            return self.client.virtual_machines.begin_deallocate(*self._vm(pid))
        return self.client.virtual_machines.begin_power_off(*self._vm(pid), skip_shutdown=False)

    def _request_start(self, pid: str) -> Optional[Pending]:
        return self.client.virtual_machines.begin_start(*self._vm(pid))

    def _request_power_cut(self, pid: str) -> Optional[Pending]:
        return self.client.virtual_machines.begin_power_off(*self._vm(pid), skip_shutdown=True)
