"""Offline switchover, for real: etcd leadership moves from the primary member to the secondary.

The local cluster (``gauntlet.local.nodes``) is three real etcd members. The primary is the
member that leads; a cycle hands leadership to the secondary with etcd's own move-leader
(``/v3/maintenance/transfer-leadership``), proves the new leader serves the data written through
the old one, and swaps the roles for the next cycle:

==============================  =================================================================
preflight                       every member healthy, a leader, both roles are members
primary_preparation             the primary leads (re-established if not); a marker written
                                through it; the secondary has applied it (ready to take over)
activation                      the secondary is healthy; move-leader to it
post_activation_verification    the secondary leads by its own and a majority's account; the
                                marker reads back through it; it accepts a write; quorum
finalization                    every member healthy again (the old primary is the next
                                secondary); data from the run's start still there; roles swapped
==============================  =================================================================

Data continuity is checked with keys under ``gauntlet/soak/<run-id>/``: a sentinel written in
cycle 1, one marker per cycle, and ``last-marker`` naming the newest earlier marker.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from gauntlet.clock import WaitTimeout, real_clock, wait_until
from gauntlet.soak.ids import cycle_id
from gauntlet.soak.monitor import Observation, Problem, rss_kb
from gauntlet.soak.phases import CycleContext, PhaseFailed, Switchover

DB_SIZE_LIMIT = 100 * 1024 * 1024  # bytes: etcd's default quota is 2 GiB; a soak should stay tiny
MEMBER_RSS_LIMIT_KB = 512 * 1024


def _prefix(run_id: str) -> str:
    return f"gauntlet/soak/{run_id}"


def marker_key(run_id: str, cycle: int) -> str:
    return f"{_prefix(run_id)}/cycle/{cycle:03d}"


def sentinel_key(run_id: str) -> str:
    return f"{_prefix(run_id)}/sentinel"


def last_marker_key(run_id: str) -> str:
    return f"{_prefix(run_id)}/last-marker"


class EtcdSwitchover(Switchover):
    """The switchover on a started :class:`~gauntlet.local.nodes.cluster.LocalCluster`."""

    name = "etcd"

    def __init__(self, cluster, probe_timeout: float = 0.5) -> None:
        self.cluster = cluster
        self.probe = cluster.probe(timeout=probe_timeout)
        self.power = cluster.power()

    @property
    def members(self) -> List[str]:
        return list(self.cluster.node_names)

    # -- roles ------------------------------------------------------------------------------------

    def pair(self, primary: Optional[str], secondary: Optional[str]) -> Tuple[str, str]:
        """The asked members, else the current leader and the next member after it."""
        for option, name in (("--primary-context", primary), ("--secondary-context", secondary)):
            if name and name not in self.members:
                raise PhaseFailed(f"{option}: {name!r} is not a member of the local cluster "
                                  f"(members: {', '.join(self.members)})")
        if not primary:
            leader = wait_until(self.probe.leader, 15, interval=0.05, description="a leader",
                                clock=real_clock).value
            primary = leader if leader != secondary else self._after(leader)
        return primary, secondary or self._after(primary)

    def _after(self, member: str) -> str:
        members = self.members
        return members[(members.index(member) + 1) % len(members)]

    # -- phases -----------------------------------------------------------------------------------

    def preflight(self, ctx: CycleContext) -> None:
        for role, name in (("primary", ctx.primary), ("secondary", ctx.secondary)):
            if name not in self.members:
                raise PhaseFailed(f"the {role} {name!r} is not a member ({', '.join(self.members)})")
        health = self.probe.member_health()
        down = sorted(node for node, healthy in health.items() if not healthy)
        if down:
            states = {node: self.power.node_state(node) for node in down}
            raise PhaseFailed("members not healthy: " + ", ".join(f"{n} ({s})" for n, s in states.items()))
        leader = self.probe.leader()
        if leader is None:
            raise PhaseFailed("the cluster has no leader")
        ctx.state.set(leader_before=leader, health=health)
        ctx.log(f"preflight: {len(health)} members healthy, leader {leader}")

    def primary_preparation(self, ctx: CycleContext) -> None:
        leader = self.probe.leader()
        if leader != ctx.primary:
            ctx.log(f"primary preparation: {leader} leads, not the primary {ctx.primary}: "
                    f"moving leadership back first")
            self.probe.move_leader(ctx.primary, timeout=ctx.timeout)
            ctx.state.set(realigned_from=leader)
        previous = self.probe.get(last_marker_key(ctx.run_id))
        if previous is None:  # the run's first marker: the sentinel goes with it
            self.probe.put(sentinel_key(ctx.run_id), ctx.run_id, node=ctx.primary)
        key, value = marker_key(ctx.run_id, ctx.cycle), f"{ctx.cycle_id} via {ctx.primary}"
        revision = self.probe.put(key, value, node=ctx.primary)
        self.probe.put(last_marker_key(ctx.run_id), str(ctx.cycle), node=ctx.primary)
        ctx.state.set(marker={"key": key, "value": value, "revision": revision},
                      previous_marker=int(previous) if previous else None)
        self._wait(ctx, lambda: self.probe.get(key, node=ctx.secondary, serializable=True) == value,
                   f"the secondary {ctx.secondary} to apply revision {revision}")
        ctx.log(f"primary preparation: {ctx.primary} leads; marker {key} at revision {revision} "
                f"applied on {ctx.secondary}")

    def activation(self, ctx: CycleContext) -> None:
        self._wait(ctx, lambda: self.probe.health(ctx.secondary),
                   f"the secondary {ctx.secondary} to be healthy")
        self.probe.move_leader(ctx.secondary, timeout=ctx.timeout)
        ctx.state.set(activated=True)
        ctx.log(f"activation: leadership moved {ctx.primary} -> {ctx.secondary}")

    def post_activation_verification(self, ctx: CycleContext) -> None:
        target = self.probe.member_id(ctx.secondary)
        statuses = self.probe.status()
        agree = sorted(node for node, status in statuses.items()
                       if status and status.get("leader") == target)
        if ctx.secondary not in agree or len(agree) <= len(self.members) // 2:
            raise PhaseFailed(f"{ctx.secondary} is not the leader by a majority's account "
                              f"(agreeing: {', '.join(agree) or 'none'})")
        marker = ctx.state["marker"]
        found = self.probe.get(marker["key"], node=ctx.secondary)
        if found != marker["value"]:
            raise PhaseFailed(f"{marker['key']} reads {found!r} through {ctx.secondary}, "
                              f"expected {marker['value']!r}")
        revision = self.probe.put(marker["key"] + "/after", ctx.cycle_id, node=ctx.secondary)
        if not self.probe.has_quorum():
            raise PhaseFailed("no quorum after the switchover")
        ctx.state.set(leader_after=ctx.secondary, leader_agreed_by=agree, write_after=revision)
        ctx.log(f"post-activation verification: {ctx.secondary} leads ({', '.join(agree)} agree); "
                f"data intact; write at revision {revision}")

    def finalization(self, ctx: CycleContext) -> None:
        self._wait(ctx, lambda: all(self.probe.member_health().values()),
                   "every member to be healthy (the old primary is the next secondary)")
        checks = self.verify_continuity(ctx)
        ctx.state.set(next_primary=ctx.secondary, next_secondary=ctx.primary)
        ctx.log(f"finalization: every member healthy; {'; '.join(checks)}; roles swapped: "
                f"next primary {ctx.secondary}, next secondary {ctx.primary}")

    # -- recovery ---------------------------------------------------------------------------------

    def recover(self, ctx: CycleContext, passed: bool) -> dict:
        """Power every member back on, then roll back (failed cycle: the primary leads) or keep
        the switchover (passed cycle: the secondary leads), and verify it, data included."""
        actions, checks = [], []
        for node in self.members:
            state = self.power.node_state(node)
            if state == "paused":
                self.power.resume_node(node)
                actions.append(f"resumed {node}")
            elif state == "stopped":
                self.power.start_node(node)
                actions.append(f"started {node}")
            elif state != "running":
                raise PhaseFailed(f"{node} is {state}: its machine does not answer")
        self._wait(ctx, lambda: all(self.probe.member_health().values()), "every member to be healthy")
        checks.append("every member healthy")
        expected = ctx.secondary if passed else ctx.primary
        leader = self._wait(ctx, self.probe.leader, "a leader")
        if leader != expected:
            self.probe.move_leader(expected, timeout=ctx.timeout)
            actions.append(f"{'rolled back' if not passed else 'rolled forward'}: leadership "
                           f"{leader} -> {expected}")
        if self.probe.leader() != expected:
            raise PhaseFailed(f"after recovery {self.probe.leader()} leads, expected {expected}")
        checks.append(f"{expected} leads")
        checks += self.verify_continuity(ctx)
        ctx.log(f"recovery: {'; '.join(actions) or 'nothing to undo'}; verified: {'; '.join(checks)}")
        return {"action": "; ".join(actions) or "none", "leader": expected, "checks": checks}

    def verify_continuity(self, ctx: CycleContext) -> List[str]:
        """Data written earlier in the run reads back intact: the sentinel written with the run's
        first marker, this cycle's marker, and the previous cycle's (or the newest) marker."""
        checks = []
        last = self.probe.get(last_marker_key(ctx.run_id))
        if last and self.probe.get(sentinel_key(ctx.run_id)) != ctx.run_id:
            raise PhaseFailed(f"data lost: {sentinel_key(ctx.run_id)} (written with the first marker) is gone")
        if last:
            checks.append("sentinel intact")
        marker = ctx.state.get("marker")
        if marker:
            if self.probe.get(marker["key"]) != marker["value"]:
                raise PhaseFailed(f"data lost: {marker['key']} no longer reads {marker['value']!r}")
            checks.append(f"marker of cycle {ctx.cycle} intact")
        earlier = ctx.state.get("previous_marker") if marker else (int(last) if last else None)
        if earlier:
            key = marker_key(ctx.run_id, earlier)
            if not (self.probe.get(key) or "").startswith(cycle_id(ctx.run_id, earlier) + " "):
                raise PhaseFailed(f"data lost: {key} (cycle {earlier}) is gone")
            checks.append(f"marker of cycle {earlier} intact")
        return checks

    # -- monitoring and snapshots -----------------------------------------------------------------

    def observe(self) -> Observation:
        health = self.probe.member_health()
        statuses = self.probe.status()
        leader = _leader(statuses)
        members: Dict[str, dict] = {}
        problems: List[Problem] = []
        for node in self.members:
            status = statuses.get(node) or {}
            machine = self._machine(node)
            rss = rss_kb(machine.get("etcd_pid")) if machine.get("etcd_pid") else None
            members[node] = {"healthy": health.get(node, False), "state": machine.get("state", "unknown"),
                             "db_size": _int(status.get("dbSize")), "raft_index": _int(status.get("raftIndex")),
                             "rss_kb": rss}
            if not health.get(node):
                problems.append(Problem(f"member-unhealthy:{node}", "warning",
                                        f"etcd member {node} is not healthy ({members[node]['state']})"))
            if (members[node]["db_size"] or 0) > DB_SIZE_LIMIT:
                problems.append(Problem(f"db-size:{node}", "warning",
                                        f"{node} database {members[node]['db_size']} bytes > {DB_SIZE_LIMIT}"))
            if (rss or 0) > MEMBER_RSS_LIMIT_KB:
                problems.append(Problem(f"member-rss:{node}", "warning",
                                        f"{node} etcd RSS {rss} kB > {MEMBER_RSS_LIMIT_KB} kB"))
        healthy = sum(1 for value in health.values() if value)
        if healthy <= len(self.members) // 2:
            problems.append(Problem("quorum-lost", "critical",
                                    f"only {healthy} of {len(self.members)} members healthy: no quorum"))
        if leader is None:
            problems.append(Problem("no-leader", "critical", "no etcd member leads"))
        values = {"leader": leader, "healthy": healthy, "total": len(self.members), "members": members,
                  "db_size_max": max((m["db_size"] or 0 for m in members.values()), default=0)}
        return Observation(values, problems)

    def snapshot(self) -> dict:
        statuses = self.probe.status()
        return {"backend": self.name, "cluster_dir": str(self.cluster.run_dir),
                "leader": _leader(statuses), "health": self.probe.member_health(),
                "members": {node.name: {"address": node.address, "client_url": node.client_url,
                                        "machine": self._machine(node.name),
                                        "status": statuses.get(node.name)}
                            for node in self.cluster.nodes}}

    # -- helpers ----------------------------------------------------------------------------------

    def _machine(self, node: str) -> dict:
        try:
            return self.cluster.node(node).status()
        except Exception:  # noqa: BLE001 - the machine process is gone: say so, do not fail
            return {"state": "unknown"}

    def _wait(self, ctx: CycleContext, condition, description: str):
        try:
            return wait_until(condition, ctx.timeout, interval=0.05, description=description,
                              clock=real_clock).value
        except WaitTimeout as error:
            raise PhaseFailed(str(error)) from None


def _leader(statuses: Dict[str, Optional[dict]]) -> Optional[str]:
    """The member that leads by its own account (highest term wins), from status replies."""
    claims = [(int(status.get("raftTerm") or 0), node) for node, status in statuses.items()
              if status and status.get("leader")
              and status["leader"] == status.get("header", {}).get("member_id")]
    return max(claims)[1] if claims else None


def _int(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
