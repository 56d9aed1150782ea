"""The ``local`` provider for workflow suites: a real 3-node cluster on 127.0.0.11-13.

``gauntlet workflow run FILE --suite NAME`` and the failsafety features build their environment
here: ``deploy`` starts the local cluster, checks probe it (etcd health, quorum, data; sshd),
power steps act on its real processes, ``teardown`` removes it.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Callable, Optional

from gauntlet.checks.context import CheckContext
from gauntlet.local.nodes.cluster import LocalCluster
from gauntlet.workflow.executor import Deployment, WorkflowEnvironment


class LocalDeployment(Deployment):
    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.started = False

    def init(self) -> None:
        self.cluster.run_dir.mkdir(parents=True, exist_ok=True)

    def deploy(self) -> None:
        self.cluster.start()
        self.started = True

    def teardown(self) -> None:
        if self.started:
            self.cluster.stop(remove=True)
            self.started = False


def ssh_answers(cluster: LocalCluster, timeout: float = 2.0) -> Callable[[str], bool]:
    """A node "answers SSH" when its sshd sends the protocol banner."""
    def reachable(node: str) -> bool:
        address, port = cluster.ssh_endpoints[node]
        try:
            with socket.create_connection((address, port), timeout=timeout) as connection:
                connection.settimeout(timeout)
                return connection.recv(4).startswith(b"SSH-")
        except OSError:
            return False
    return reachable


def workflow_environment(suite, deploy_dir: Path, on_started: Optional[Callable] = None,
                         on_stopped: Optional[Callable] = None) -> WorkflowEnvironment:
    """Environment for one suite run; ``on_started``/``on_stopped`` feed a resource ledger."""
    cluster = LocalCluster(Path(deploy_dir) / "cluster", nodes=suite.nodes,
                           on_started=on_started, on_stopped=on_stopped)
    context = CheckContext(power=cluster.power(), database=cluster.probe(),
                           ssh_reachable=ssh_answers(cluster), deploy_dir=Path(deploy_dir))
    return WorkflowEnvironment(LocalDeployment(cluster), context)
