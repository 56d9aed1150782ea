"""DigitalOcean power control (pydo): droplet shutdown/power on, power off for a crash.

The document marks node operations No and the cluster Manual; the official SDK has them all, so
Gauntlet goes beyond the document (see matrix.py). stop = droplet action ``shutdown`` (graceful,
may fail inside the guest), then ``power_off`` if the droplet is not off after ``stop_grace``,
as DigitalOcean's API reference advises; start = ``power_on``; crash ``destroy`` = ``power_off``
(a hard power cut); graceful restart = stop then start. Actions are polled with
``actions.get`` through the clock, then ``droplets.get`` until the status.
"""

from __future__ import annotations

from typing import Any, Optional

from gauntlet.adapters.power.registry import ApiPowerControl, Pending

STATUSES = {"active": "running", "off": "stopped", "new": "unknown", "archive": "unknown"}


class DropletAction:
    """A droplet action in flight: ``done()`` once it left 'in-progress'; ``result()`` raises on
    'errored'."""

    def __init__(self, client: Any, response: Any) -> None:
        self.client = client
        self.action = response["action"]

    def done(self) -> bool:
        self.action = self.client.actions.get(self.action["id"])["action"]
        return self.action.get("status") != "in-progress"

    def result(self) -> Any:
        if self.action.get("status") == "errored":
            raise RuntimeError(f"digitalocean: droplet action {self.action.get('type')} "
                               f"{self.action.get('id')} on {self.action.get('resource_id')} errored")
        return self.action


class DigitalOceanPowerControl(ApiPowerControl):
    """``client``: a ``pydo.Client``; ``node_ids``: node name -> droplet id."""

    provider = "digitalocean"
    hard_stop_fallback = True
    connection_settings = ("token",)

    @classmethod
    def connect(cls, token: str) -> Any:
        import pydo

        return pydo.Client(token=token)

    def _read_state(self, pid: Any) -> str:
        droplet = self.client.droplets.get(int(pid))["droplet"]
        return STATUSES.get(droplet.get("status"), "unknown")

    def _action(self, pid: Any, kind: str) -> Pending:
        return DropletAction(self.client, self.client.droplet_actions.post(int(pid), body={"type": kind}))

    def _request_stop(self, pid: Any) -> Optional[Pending]:
        return self._action(pid, "shutdown")

    def _request_start(self, pid: Any) -> Optional[Pending]:
        return self._action(pid, "power_on")

    def _request_power_cut(self, pid: Any) -> Optional[Pending]:
        return self._action(pid, "power_off")
