"""Hetzner Cloud power control (hcloud): shutdown/power on servers, power off for a crash.

The document marks node operations No and the cluster Manual; the official SDK has them all, so
Gauntlet goes beyond the document (see matrix.py). stop = ``servers.shutdown`` (an ACPI request
the guest may ignore), then ``servers.power_off`` if the server is not off after ``stop_grace``;
start = ``servers.power_on``; crash ``destroy`` = ``servers.power_off`` (cuts the power);
graceful restart = stop then start. Actions are polled with ``actions.get_by_id`` through the
clock (hcloud's own ``wait_until_finished`` sleeps), then ``servers.get_by_id`` until the status.
"""

from __future__ import annotations

from typing import Any, Optional

from gauntlet.adapters.power.registry import ApiPowerControl, Pending

STATUSES = {
    "running": "running",
    "off": "stopped",
    "initializing": "unknown",
    "starting": "unknown",
    "stopping": "unknown",
    "migrating": "unknown",
    "rebuilding": "unknown",
    "deleting": "unknown",
    "unknown": "unknown",
}


class HetznerAction:
    """A Hetzner action in flight: ``done()`` once it left 'running'; ``result()`` raises on 'error'."""

    def __init__(self, client: Any, action: Any) -> None:
        self.client = client
        self.action = action

    def done(self) -> bool:
        self.action = self.client.actions.get_by_id(self.action.id)
        return self.action.status != "running"

    def result(self) -> Any:
        if self.action.status == "error":
            from hcloud.actions import ActionFailedException

            raise ActionFailedException(self.action)
        return self.action


class HetznerPowerControl(ApiPowerControl):
    """``client``: an ``hcloud.Client``; ``node_ids``: node name -> server id."""

    provider = "hetzner"
    hard_stop_fallback = True
    connection_settings = ("token",)

    @classmethod
    def connect(cls, token: str) -> Any:
        import hcloud

        return hcloud.Client(token=token, application_name="gauntlet")

    @staticmethod
    def _server(pid: Any) -> Any:
        from hcloud.servers import Server

        return Server(id=int(pid))

    def _read_state(self, pid: Any) -> str:
        return STATUSES.get(self.client.servers.get_by_id(int(pid)).status, "unknown")

    def _request_stop(self, pid: Any) -> Optional[Pending]:
        return HetznerAction(self.client, self.client.servers.shutdown(self._server(pid)))

    def _request_start(self, pid: Any) -> Optional[Pending]:
        return HetznerAction(self.client, self.client.servers.power_on(self._server(pid)))

    def _request_power_cut(self, pid: Any) -> Optional[Pending]:
        return HetznerAction(self.client, self.client.servers.power_off(self._server(pid)))
