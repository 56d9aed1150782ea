"""libvirt power control (libvirt-python): shutdown/create domains, destroy for a crash.

The document marks node operations No and the cluster Manual; libvirt has them all, so Gauntlet
goes beyond the document (see matrix.py). stop = ``virDomain.shutdown`` (ACPI; the guest may
ignore it), then ``virDomain.destroy`` if the domain is not off after ``stop_grace``; start =
``virDomain.create`` (``resume`` for a paused domain); crash ``destroy`` = ``virDomain.destroy``;
graceful restart = stop then start. A transient domain (no persistent definition) cannot be
started again once off, so powering it off raises NotImplementedError. Verified offline against
libvirt's own ``test:///default`` driver.
"""

from __future__ import annotations

from typing import Any, Optional

from gauntlet.adapters.power.base import unsupported
from gauntlet.adapters.power.registry import ApiPowerControl, Pending, operation_label

# virDomainState values (libvirt's stable ABI): NOSTATE, RUNNING, BLOCKED, PAUSED, SHUTDOWN
# (being shut down), SHUTOFF, CRASHED, PMSUSPENDED.
STATES = {0: "unknown", 1: "running", 2: "running", 3: "paused", 4: "unknown", 5: "stopped",
          6: "stopped", 7: "paused"}


class LibvirtPowerControl(ApiPowerControl):
    """``client``: a libvirt connection (``libvirt.open(uri)``); ``node_ids``: node name ->
    domain name."""

    provider = "libvirt"
    hard_stop_fallback = True
    connection_settings = ("uri",)

    def __init__(self, client: Any, node_ids: Any, **options: Any) -> None:
        options.setdefault("interval", 1.0)
        super().__init__(client, node_ids, **options)

    @classmethod
    def connect(cls, uri: str = "qemu:///system") -> Any:
        import libvirt

        return libvirt.open(uri)

    def domain(self, pid: str) -> Any:
        return self.client.lookupByName(str(pid))

    def _check_operation(self, operation: str, node: str, pid: Any, action: str) -> None:
        if action in ("stop", "cut") and not self.domain(pid).isPersistent():
            raise unsupported(self.provider, f"{operation_label(operation)} on transient domain "
                                             f"{pid} (node {node}: powered off it would vanish and "
                                             "could not be started again)")

    def _read_state(self, pid: str) -> str:
        state, _reason = self.domain(pid).state()
        return STATES.get(state, "unknown")

    def _request_stop(self, pid: str) -> Optional[Pending]:
        self.domain(pid).shutdown()
        return None

    def _request_start(self, pid: str) -> Optional[Pending]:
        self.domain(pid).create()
        return None

    def _request_resume(self, pid: str) -> Optional[Pending]:
        self.domain(pid).resume()
        return None

    def _request_power_cut(self, pid: str) -> Optional[Pending]:
        self.domain(pid).destroy()
        return None
