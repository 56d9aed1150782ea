"""Power control for the local cluster (``gauntlet.local.nodes``): every operation is real.

A node's "machine" process holds its etcd member and sshd; power operations are requests to it
(signals underneath), and the SSH methods go through the node's sshd and node-control shim
exactly as they would reach a VM:

=======================  ====================================================================
operation                on the local node
=======================  ====================================================================
stop_node                graceful power-off: SIGTERM etcd and wait, then sshd (nothing answers)
start_node               power on: etcd on its existing data dir (rejoins), sshd; waits until
                         both accept connections; resumes a paused node
restart_node ssh         ``sudo reboot`` over SSH -> shim -> graceful stop, boot after the boot
                         delay; returns once the node has booted again and serves
restart_node graceful    stop_node then start_node
crash_node ssh           SysRq ``b`` over SSH -> shim -> SIGKILL everything, boot after the
                         boot delay (a reset without sync); returns once the crash happened
crash_node destroy       SIGKILL everything; stays off until start_node
pause_node/resume_node   SIGSTOP / SIGCONT every process of the node
node_state               running (etcd alive), stopped, paused; unknown if the machine is gone
=======================  ====================================================================
"""

from __future__ import annotations

from typing import List, Optional

from gauntlet.adapters.power import ssh
from gauntlet.adapters.power.base import PowerControl
from gauntlet.clock import Clock, WaitTimeout, real_clock, wait_until


class LocalPowerError(RuntimeError):
    """A power operation on a local node did not have its effect in time."""


class LocalPower(PowerControl):
    provider = "local"

    def __init__(self, cluster, clock: Optional[Clock] = None, ssh_timeout: float = 10.0,
                 settle_timeout: float = 20.0) -> None:
        self.cluster = cluster
        self.clock = clock or real_clock
        self.ssh_timeout = ssh_timeout
        self.settle_timeout = settle_timeout

    def nodes(self) -> List[str]:
        return list(self.cluster.node_names)

    def node_state(self, node: str) -> str:
        return self.cluster.node(node).state()

    # -- API-style power ------------------------------------------------------------------------

    def stop_node(self, node: str) -> None:
        self.cluster.node(node).request("shutdown", origin="api")

    def start_node(self, node: str) -> None:
        handle = self.cluster.node(node)
        handle.request("power_on", origin="api")
        self._wait(handle.ready, f"{node} to run and serve")

    def pause_node(self, node: str) -> None:
        self.cluster.node(node).request("pause", origin="api")

    def resume_node(self, node: str) -> None:
        self.cluster.node(node).request("resume", origin="api")

    def stop_cluster(self) -> None:
        for node in reversed(self.nodes()):
            self.stop_node(node)

    def start_cluster(self) -> None:
        """Power every node on, then wait for all: members wait for each other to form quorum."""
        for node in self.nodes():
            self.cluster.node(node).request("power_on", origin="api")
        for node in self.nodes():
            self._wait(self.cluster.node(node).ready, f"{node} to run and serve")

    # -- restart and crash ------------------------------------------------------------------------

    def restart_node(self, node: str, method: str = "ssh") -> None:
        if method == "graceful":
            self.stop_node(node)
            self.start_node(node)
            return
        if method != "ssh":
            raise ValueError(f"restart_node: unknown method {method!r} (ssh or graceful)")
        handle = self.cluster.node(node)
        boots = handle.status()["boots"]
        ssh.ssh_restart(handle.address, handle.ssh_port, self.cluster.user,
                        str(self.cluster.key_file), timeout=self.ssh_timeout)
        self._wait(lambda: handle.status()["boots"] > boots and handle.ready(),
                   f"{node} to reboot and serve again")

    def crash_node(self, node: str, method: str = "ssh") -> None:
        if method == "destroy":
            self.cluster.node(node).request("destroy", origin="api")
            return
        if method != "ssh":
            raise ValueError(f"crash_node: unknown method {method!r} (ssh or destroy)")
        handle = self.cluster.node(node)
        crashes = handle.status()["crashes"]
        ssh.ssh_crash(handle.address, handle.ssh_port, self.cluster.user,
                      str(self.cluster.key_file), timeout=self.ssh_timeout)
        self._wait(lambda: handle.status()["crashes"] > crashes, f"{node} to crash")

    def _wait(self, condition, description: str) -> None:
        try:
            wait_until(condition, self.settle_timeout, interval=0.02, description=description,
                       clock=self.clock)
        except WaitTimeout as error:
            raise LocalPowerError(str(error)) from error
