"""The local cluster a soak run owns: ``<run dir>/cluster/``, started fresh, stopped for sure.

A run killed with SIGKILL leaves its node processes running (they are their own process groups,
as real machines would be). Starting the cluster again for ``--resume`` first stops whatever
still runs from that directory, then starts the nodes on their existing data dirs: the etcd data
of the interrupted attempt is still there, so data continuity holds across the kill.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from gauntlet.local.nodes.cluster import LocalCluster

CLUSTER_DIR = "cluster"


def leftovers(run_dir: Path) -> List[int]:
    """Live processes (machines, etcd, sshd) started from ``run_dir``'s cluster."""
    return LocalCluster(Path(run_dir) / CLUSTER_DIR).leftover_processes()


def reap(run_dir: Path) -> List[int]:
    """Stop every process left running from ``run_dir``'s cluster; returns their pids."""
    pids = leftovers(run_dir)
    if pids:
        LocalCluster(Path(run_dir) / CLUSTER_DIR).stop()
    return pids


def start_cluster(run_dir: Path, ledger=None, timeout: float = 30.0,
                  lock_timeout: float = 120.0) -> LocalCluster:
    """Start the run's 3-node cluster (after reaping a killed attempt's processes).

    ``ledger`` (a ``gauntlet.harness.ledger.Ledger``) records the cluster's directory and
    processes before the run relies on them, and releases them when they stop.
    """
    reap(run_dir)
    cluster = LocalCluster(Path(run_dir) / CLUSTER_DIR,
                           on_started=ledger.record if ledger else None,
                           on_stopped=ledger.release if ledger else None,
                           lock_timeout=lock_timeout)
    return cluster.start(timeout)


def stop_cluster(cluster: Optional[LocalCluster]) -> None:
    """Stop the cluster (its data and logs stay in the run dir, for diagnostics)."""
    if cluster is not None:
        for node in cluster.node_names:  # a paused member would delay its graceful stop
            if cluster.node(node).state() == "paused":
                cluster.power().resume_node(node)
        cluster.stop()
