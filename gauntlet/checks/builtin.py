"""The built-in validation checks: probes of a :class:`CheckContext` that return a bool.

Each check is one small function; power state comes from ``context.power``, database state from
``context.database`` (an etcd-like probe). Definitions, for a cluster of N nodes (quorum is a
majority of members, N // 2 + 1):

- ``cluster_status``: every node is running, every member is healthy and the cluster has quorum.
- ``cluster_status_stopped``: no node is running and no member reports healthy.
- ``cluster_degraded``: quorum holds, but at least one member is not healthy.
- ``cluster_critical``: quorum is lost while at least one node is still running (two of three
  crashed). With nothing running the cluster is stopped, not critical.
- ``all_nodes_running``: every node's power state is ``running``.
- ``ssh_connectivity``: at least one node is running and every running node answers SSH.
- ``vms_powered_off``: every node's power state is ``stopped`` (paused is not powered off).
- ``node_status:<node>[:<state>]``: the node's power state is <state> (default ``running``).
- ``database_running``: the database serves requests: it has quorum and a leader.
- ``database_degraded``: it serves requests (quorum and a leader) but at least one member is
  unhealthy.
- ``database_down``: it serves no writes: quorum is lost (no member can commit).
- ``admin_ui_accessible``: at least one running node serves the admin UI.
- ``data_integrity``: a sentinel key written once per run (after deploy, or by the first
  evaluation) still reads back with the value written. See :func:`data_integrity`.
"""

from __future__ import annotations

import uuid
from typing import Callable, List, NamedTuple

from gauntlet.checks.context import CheckContext

SENTINEL_PREFIX = "gauntlet/data_integrity/"
NODE_STATUS = "node_status"


def _running_nodes(ctx: CheckContext) -> List[str]:
    return [node for node in ctx.nodes() if ctx.power.node_state(node) == "running"]


def _healthy_members(ctx: CheckContext) -> List[str]:
    health = ctx.require_database().member_health()
    return [node for node in ctx.nodes() if health.get(node, False)]


# --- cluster ----------------------------------------------------------------------------------

def cluster_status(ctx: CheckContext) -> bool:
    nodes = ctx.nodes()
    return (all(ctx.power.node_state(node) == "running" for node in nodes)
            and len(_healthy_members(ctx)) == len(nodes)
            and ctx.require_database().has_quorum())


def cluster_status_stopped(ctx: CheckContext) -> bool:
    return not _running_nodes(ctx) and not _healthy_members(ctx)


def cluster_degraded(ctx: CheckContext) -> bool:
    return (ctx.require_database().has_quorum()
            and len(_healthy_members(ctx)) < len(ctx.nodes()))


def cluster_critical(ctx: CheckContext) -> bool:
    return bool(_running_nodes(ctx)) and not ctx.require_database().has_quorum()


# --- nodes ------------------------------------------------------------------------------------

def all_nodes_running(ctx: CheckContext) -> bool:
    return all(ctx.power.node_state(node) == "running" for node in ctx.nodes())


def ssh_connectivity(ctx: CheckContext) -> bool:
    running = _running_nodes(ctx)
    return bool(running) and all(ctx.ssh_reachable(node) for node in running)


def vms_powered_off(ctx: CheckContext) -> bool:
    return all(ctx.power.node_state(node) == "stopped" for node in ctx.nodes())


def node_status(node: str, state: str = "running") -> Callable[[CheckContext], bool]:
    """The check for ``node_status:<node>[:<state>]``."""

    def check(ctx: CheckContext) -> bool:
        return ctx.power.node_state(node) == state

    check.__name__ = f"node_status_{node}_{state}"
    return check


# --- database ---------------------------------------------------------------------------------

def database_running(ctx: CheckContext) -> bool:
    database = ctx.require_database()
    return database.has_quorum() and database.leader() is not None


def database_degraded(ctx: CheckContext) -> bool:
    return database_running(ctx) and len(_healthy_members(ctx)) < len(ctx.nodes())


def database_down(ctx: CheckContext) -> bool:
    return not ctx.require_database().has_quorum()


def admin_ui_accessible(ctx: CheckContext) -> bool:
    database = ctx.require_database()
    return any(database.admin_ui(node) for node in _running_nodes(ctx))


# --- data integrity ---------------------------------------------------------------------------

class Sentinel(NamedTuple):
    key: str
    value: str


def plant_sentinel(ctx: CheckContext) -> Sentinel:
    """Write this run's sentinel key once (idempotent); later checks verify it survived."""
    planted = ctx.scratch.get("data_integrity")
    if planted is not None:
        return planted
    token = uuid.uuid4().hex
    sentinel = Sentinel(SENTINEL_PREFIX + token, f"written-before-operations:{token}")
    ctx.require_database().put(sentinel.key, sentinel.value)
    ctx.scratch["data_integrity"] = sentinel
    return sentinel


def data_integrity(ctx: CheckContext) -> bool:
    """The sentinel written before the operations reads back unchanged.

    The executor plants the sentinel right after a completed deploy step when the suite uses
    this check; if that did not happen (or failed), the first evaluation plants it and passes
    when it reads back. A lost key, a changed value or an unreadable database fails the check.
    """
    sentinel = plant_sentinel(ctx)
    return ctx.require_database().get(sentinel.key) == sentinel.value


BUILTIN_CHECKS = [
    ("cluster_status", "Cluster is healthy and operational: all nodes running, all members "
                       "healthy, quorum", cluster_status),
    ("cluster_status_stopped", "Cluster is fully stopped: no node running, no member healthy",
     cluster_status_stopped),
    ("cluster_degraded", "Cluster is degraded but operational: quorum, some member unhealthy",
     cluster_degraded),
    ("cluster_critical", "Cluster is critical: quorum lost while some node still runs",
     cluster_critical),
    ("all_nodes_running", "All nodes are running", all_nodes_running),
    ("ssh_connectivity", "Every running node answers SSH (and at least one runs)",
     ssh_connectivity),
    ("vms_powered_off", "All nodes are powered off", vms_powered_off),
    ("database_running", "Database serves requests: quorum and a leader", database_running),
    ("database_degraded", "Database serves requests (quorum, leader), some member unhealthy",
     database_degraded),
    ("database_down", "Database serves no writes: quorum lost", database_down),
    ("admin_ui_accessible", "The admin UI answers on at least one running node",
     admin_ui_accessible),
    ("data_integrity", "A sentinel key written before the operations reads back unchanged",
     data_integrity),
]
