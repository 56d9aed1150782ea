"""An in-memory cluster for tests and dry runs: power control, an etcd-like probe, a deployment.

It models what the workflow checks look at: each node is running, stopped or paused; a started
node becomes a healthy member ``boot_seconds`` (clock time) after it started; the cluster has
quorum while a majority of members is healthy; without quorum no member reports healthy and
reads and writes fail, as with etcd. Every action lands in ``calls`` and every probe in
``probes``, so a test can assert that nothing ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

from gauntlet.adapters.power.base import PowerControl, unsupported
from gauntlet.checks.context import CheckContext
from gauntlet.clock import Clock, default_clock
from gauntlet.workflow.executor import Deployment, WorkflowEnvironment
from gauntlet.workflow.schema import POWER_OPERATIONS, Suite

FAKE_MATRIX: Dict[str, Set[str]] = {
    "local": set(POWER_OPERATIONS),
    "aws": set(POWER_OPERATIONS) - {"crash_node:destroy"},
    "libvirt": {"stop_cluster", "start_cluster", "restart_node:ssh", "crash_node:ssh"},
}


def fake_capabilities(provider: str) -> Set[str]:
    """A stand-in for the power capability matrix (KeyError for an unknown provider)."""
    return set(FAKE_MATRIX[provider])


class FakeCluster(PowerControl):
    def __init__(self, nodes: Iterable[str] = ("n11", "n12", "n13"),
                 clock: Optional[Clock] = None, boot_seconds: float = 0.0,
                 provider: str = "local", operations: Optional[Set[str]] = None) -> None:
        self.provider = provider
        self.clock = clock or default_clock()
        self.boot_seconds = boot_seconds
        self.operations = set(POWER_OPERATIONS if operations is None else operations)
        self.states: Dict[str, str] = {node: "stopped" for node in nodes}
        self.started_at: Dict[str, float] = {}
        self.data: Dict[str, str] = {}
        self.ssh_down: Set[str] = set()
        self.calls: List[str] = []
        self.probes: List[str] = []
        self.probe = FakeEtcdProbe(self)
        self.deployment = FakeDeployment(self)

    # --- PowerControl -------------------------------------------------------------------------

    def nodes(self) -> List[str]:
        return list(self.states)

    def node_state(self, node: str) -> str:
        self.probes.append(f"node_state {node}")
        return self.states.get(node, "unknown")

    def stop_node(self, node: str) -> None:
        self._act("stop_node", node)
        self.states[node] = "stopped"

    def start_node(self, node: str) -> None:
        self._act("start_node", node)
        self._boot(node)

    def restart_node(self, node: str, method: str = "ssh") -> None:
        self._act(f"restart_node:{method}", node)
        self._boot(node)

    def crash_node(self, node: str, method: str = "ssh") -> None:
        self._act(f"crash_node:{method}", node)
        self.states[node] = "stopped"

    def stop_cluster(self) -> None:
        self._act("stop_cluster")
        for node in self.states:
            self.states[node] = "stopped"

    def start_cluster(self) -> None:
        self._act("start_cluster")
        for node in self.states:
            self._boot(node)

    # --- helpers ------------------------------------------------------------------------------

    def pause_node(self, node: str) -> None:
        self.states[node] = "paused"

    def _act(self, operation: str, node: Optional[str] = None) -> None:
        self.calls.append(f"{operation} {node}" if node else operation)
        if operation not in self.operations:
            raise unsupported(self.provider, operation)
        if node is not None and node not in self.states:
            raise KeyError(f"no node {node!r}")

    def _boot(self, node: str) -> None:
        self.states[node] = "running"
        self.started_at[node] = self.clock.now()

    def booted(self, node: str) -> bool:
        return (self.states.get(node) == "running"
                and self.clock.now() - self.started_at.get(node, 0.0) >= self.boot_seconds)

    def quorum(self) -> bool:
        return sum(self.booted(node) for node in self.states) >= len(self.states) // 2 + 1

    def ssh_reachable(self, node: str) -> bool:
        self.probes.append(f"ssh {node}")
        return self.states.get(node) == "running" and node not in self.ssh_down

    def context(self, deploy_dir: Optional[Path] = None) -> CheckContext:
        return CheckContext(power=self, database=self.probe, ssh_reachable=self.ssh_reachable,
                            deploy_dir=deploy_dir or Path.cwd())

    def environment(self, suite: Suite, deploy_dir: Path) -> WorkflowEnvironment:
        """An environment factory for the CLI (``main(..., environment_factory=...)``)."""
        return WorkflowEnvironment(self.deployment, self.context(deploy_dir))


class FakeEtcdProbe:
    """etcd as the checks see it: member health, leader, quorum, key/value, admin UI."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def member_health(self) -> Dict[str, bool]:
        self.cluster.probes.append("member_health")
        quorum = self.cluster.quorum()
        return {node: quorum and self.cluster.booted(node) for node in self.cluster.states}

    def leader(self) -> Optional[str]:
        self.cluster.probes.append("leader")
        if not self.cluster.quorum():
            return None
        return next(node for node in self.cluster.states if self.cluster.booted(node))

    def has_quorum(self) -> bool:
        self.cluster.probes.append("has_quorum")
        return self.cluster.quorum()

    def put(self, key: str, value: str) -> None:
        self.cluster.calls.append(f"put {key}")
        self._require_quorum()
        self.cluster.data[key] = value

    def get(self, key: str) -> Optional[str]:
        self.cluster.probes.append(f"get {key}")
        self._require_quorum()
        return self.cluster.data.get(key)

    def admin_ui(self, node: str) -> bool:
        self.cluster.probes.append(f"admin_ui {node}")
        return self.cluster.booted(node)

    def _require_quorum(self) -> None:
        if not self.cluster.quorum():
            raise ConnectionError("etcdserver: no leader (quorum lost)")


class FakeDeployment(Deployment):
    """init/deploy/teardown on the fake cluster; ``fail`` maps a hook name to an exception."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.fail: Dict[str, Exception] = {}

    def init(self) -> None:
        self._hook("init")

    def deploy(self) -> None:
        self._hook("deploy")
        for node in self.cluster.states:
            self.cluster._boot(node)

    def teardown(self) -> None:
        self._hook("teardown")
        for node in self.cluster.states:
            self.cluster.states[node] = "stopped"

    def _hook(self, name: str) -> None:
        self.cluster.calls.append(name)
        if name in self.fail:
            raise self.fail[name]
