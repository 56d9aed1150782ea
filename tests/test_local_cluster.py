"""gauntlet.local.nodes and gauntlet.adapters.etcd: a real 3-node etcd + sshd cluster, broken.

Real processes (Debian etcd-server 3.4 and openssh-server) on 127.0.0.11-13. Measured times
are printed (run with ``-s`` to see them) and collected in ``TIMINGS``. Every test leaves the
cluster healthy; the module's teardown checks that no process of the run is left and that the
run directory is gone.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

from gauntlet.adapters.etcd import EtcdError, EtcdProbe
from gauntlet.clock import real_clock, wait_until
from gauntlet.harness.journal import Journal
from gauntlet.harness.ledger import Ledger, outstanding
from gauntlet.harness.teardown import reaper_for
from gauntlet.local import supervisor
from gauntlet.local.nodes import registry
from gauntlet.local.nodes.cluster import LocalCluster
from gauntlet.local.nodes.node import accepts
from gauntlet.local.nodes.shim import Refused, Shim, parse

pytestmark = pytest.mark.skipif(
    not (shutil.which("etcd") and os.path.exists("/usr/sbin/sshd")),
    reason="needs Debian packages etcd-server and openssh-server")

TIMINGS: dict = {}


def measured(name: str, seconds: float) -> None:
    TIMINGS[name] = round(seconds, 3)
    print(f"\n[timing] {name}: {seconds:.3f} s")


def all_dead(pids) -> bool:
    return not any(supervisor.pid_alive(pid) for pid in pids)


def node_pids(cluster: LocalCluster) -> set:
    pids = set()
    for node in cluster.nodes:
        status = node.status()
        pids |= {node.machine_pid, status["etcd_pid"], status["sshd_pid"]}
    return pids - {None}


# -- the shim's command parser (no processes) -----------------------------------------------------


@pytest.mark.parametrize("command, op, hard", [
    ("sudo reboot", "reboot", False),
    ("reboot", "reboot", False),
    ("sudo shutdown -r now", "reboot", False),
    ("sudo systemctl reboot", "reboot", False),
    ("sudo reboot -f", "reboot", True),
    ("sudo poweroff -f", "poweroff", True),
    ("poweroff -f", "poweroff", True),
    ("sudo poweroff", "poweroff", False),
    ("sudo shutdown -h now", "poweroff", False),
    ("echo b > /proc/sysrq-trigger", "reboot", True),
    ("sudo sh -c 'echo b > /proc/sysrq-trigger'", "reboot", True),
    ("echo b | sudo tee /proc/sysrq-trigger", "reboot", True),
    ("echo b | sudo tee /proc/sysrq-trigger > /dev/null 2>&1", "reboot", True),
    ("echo c > /proc/sysrq-trigger", "panic", True),
    ("sudo sh -c 'echo c > /proc/sysrq-trigger'", "panic", True),
    ("echo o | sudo tee /proc/sysrq-trigger", "poweroff", True),
    ("echo 1 | sudo tee /proc/sys/kernel/sysrq && echo b | sudo tee /proc/sysrq-trigger",
     "reboot", True),
    ("sync; echo s > /proc/sysrq-trigger; echo b > /proc/sysrq-trigger", "reboot", True),
])
def test_shim_maps_power_commands(command, op, hard):
    power = [a for a in parse(command) if a.kind == "power"]
    assert [(a.op, a.hard) for a in power] == [(op, hard)]


@pytest.mark.parametrize("command", [
    "", "ls /", "rm -rf /", "cat /etc/passwd", "bash", "sudo -i", "sh -c 'rm -rf /tmp/x'",
    "echo x > /etc/hosts", "echo b > /proc/sysrq-trigger; rm -rf /", "df -h | mail x",
    "hostname evil", "echo e > /proc/sysrq-trigger", "reboot $(id)", "shutdown -c",
    "systemctl stop sshd", "python3 -c 'import os'", "kill -9 1",
])
def test_shim_refuses_everything_else(command):
    with pytest.raises(Refused):
        parse(command)


def test_shim_refusal_exits_126_and_runs_nothing(tmp_path):
    import io

    out, err = io.StringIO(), io.StringIO()
    code = Shim("n11", tmp_path, out=out, err=err).run("echo b > /proc/sysrq-trigger; rm -rf /")
    assert code == 126
    assert "refused" in err.getvalue() and out.getvalue() == ""
    assert "refused" in (tmp_path / "logs" / "shim.log").read_text()


def test_shim_answers_for_the_node_without_a_machine(tmp_path):
    import io

    out = io.StringIO()
    assert Shim("n12", tmp_path, out=out, err=io.StringIO()).run("hostname; echo ok") == 0
    assert out.getvalue() == "n12\nok\n"
    # a power command with no machine behind the socket fails; nothing else is attempted
    err = io.StringIO()
    assert Shim("n12", tmp_path, out=io.StringIO(), err=err).run("sudo reboot") == 1
    assert "did not answer" in err.getvalue()


# -- teardown through the resource ledger (runs first: it owns the addresses meanwhile) ---------


def test_ledger_teardown_leaves_no_process_and_no_directory(tmp_path):
    """A run killed without stopping its cluster: --teardown-only walks the ledger and reaps."""
    journal = Journal(tmp_path / "journal.jsonl", "run-x")
    ledger = Ledger(journal)
    run_dir = tmp_path / "local-nodes"
    cluster = LocalCluster(run_dir, on_started=ledger.record).start()
    pids = node_pids(cluster)
    recorded = outstanding(journal.path)
    assert [r.kind for r in recorded] == ["directory", "process", "process", "process"]
    assert all(r.attrs.get("marker") for r in recorded if r.kind == "process")
    try:
        for resource in reversed(recorded):  # what gauntlet.harness.teardown does
            reaper_for(resource.kind)(resource)
        assert all_dead(pids)
        assert not run_dir.exists()
        assert cluster.leftover_processes() == []
        assert not accepts("127.0.0.11", 2379) and not accepts("127.0.0.12", 2380)
    finally:
        cluster.stop()  # releases the lock and registry; finds nothing left to stop
        journal.close()
    assert registry.lookup("127.0.0.11") is None


# -- the running cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gauntlet-nodes") / "cluster"
    started, stopped = [], []
    cluster = LocalCluster(run_dir, on_started=lambda kind, ident, **attrs: started.append(
        (kind, ident)), on_stopped=lambda kind, ident: stopped.append((kind, ident)))
    cluster.start(timeout=30)
    measured("cluster start to all members healthy", cluster.startup_seconds)
    pids = node_pids(cluster)
    yield cluster
    cluster.stop(remove=True)
    assert all_dead(pids), "a process of the local cluster survived its stop"
    assert cluster.leftover_processes() == []
    assert not run_dir.exists()
    assert sorted(stopped) == sorted(started), "every recorded resource was released"
    print(f"\n[timing] summary: {TIMINGS}")


@pytest.fixture
def probe(cluster) -> EtcdProbe:
    return cluster.probe()


def wait_healthy(probe: EtcdProbe, timeout: float = 20.0) -> float:
    fast = EtcdProbe(probe.endpoints, timeout=0.5)  # fine-grained polling for the timings
    return wait_until(lambda: all(fast.member_health().values()), timeout, interval=0.05,
                      description="all members healthy", clock=real_clock).elapsed


def test_cluster_is_up_healthy_and_bound_to_node_addresses(cluster, probe, power):
    assert cluster.startup_seconds < 10
    assert cluster.addresses == {"n11": "127.0.0.11", "n12": "127.0.0.12", "n13": "127.0.0.13"}
    assert probe.member_health() == {"n11": True, "n12": True, "n13": True}
    assert probe.has_quorum()
    assert all(power.node_state(node) == "running" for node in power.nodes())
    assert all(probe.admin_ui(node) for node in power.nodes())
    for node in cluster.nodes:
        assert accepts(node.address, node.ssh_port)
        assert accepts(node.address, node.metrics_port)
    for port in (2379, 2380, 2381):  # bound to the node addresses only
        assert not accepts("127.0.0.1", port)
    assert registry.lookup("127.0.0.12").node == "n12"


def test_write_on_one_member_read_on_every_member(probe):
    probe.put("gauntlet/test/greeting", "hello", node="n11")
    for node in ("n11", "n12", "n13"):
        assert probe.get("gauntlet/test/greeting", node=node) == "hello"
    assert probe.get("gauntlet/test/absent") is None


def test_leader_exists_and_moves(probe):
    leader = probe.leader()
    assert leader in ("n11", "n12", "n13")
    target = next(node for node in ("n11", "n12", "n13") if node != leader)
    began = real_clock.now()
    assert probe.move_leader(target) == target
    measured("leadership transfer (switchover)", real_clock.now() - began)
    assert probe.leader() == target


def test_stop_one_member_degrades_but_writes_succeed(cluster, probe, power):
    power.stop_node("n12")
    assert power.node_state("n12") == "stopped"
    assert power.node_state("n11") == power.node_state("n13") == "running"
    wait_until(lambda: probe.member_health() == {"n11": True, "n12": False, "n13": True}, 10,
               interval=0.05, clock=real_clock, description="n11 and n13 healthy, n12 down")
    assert probe.has_quorum()
    assert not probe.admin_ui("n12")
    assert not accepts("127.0.0.12", cluster.node("n12").ssh_port), "a stopped node answers no SSH"
    probe.put("gauntlet/test/while-n12-down", "written")
    began = real_clock.now()
    power.start_node("n12")
    wait_healthy(probe)
    measured("start of a stopped member to healthy cluster", real_clock.now() - began)
    assert probe.get("gauntlet/test/while-n12-down", node="n12") == "written"


def test_crash_two_members_loses_quorum_then_recovers(cluster, probe, power):
    probe.put("gauntlet/test/survivor", "intact")
    power.crash_node("n11", method="destroy")
    power.crash_node("n12", method="destroy")
    assert [power.node_state(n) for n in ("n11", "n12", "n13")] == ["stopped", "stopped", "running"]
    assert not probe.has_quorum()
    with pytest.raises(EtcdError):
        probe.put("gauntlet/test/no-quorum", "lost")
    assert probe.get("gauntlet/test/survivor", node="n13", serializable=True) == "intact"
    assert probe.admin_ui("n13"), "the surviving member's HTTP endpoint still answers"
    wait_until(lambda: probe.leader() is None, 5, interval=0.05, clock=real_clock,
               description="the survivor to give up leadership (no quorum)")
    began = real_clock.now()
    power.start_node("n11")
    power.start_node("n12")
    wait_healthy(probe)
    measured("restart of two crashed members to quorum and healthy", real_clock.now() - began)
    assert probe.has_quorum()
    assert probe.get("gauntlet/test/survivor") == "intact"


def test_leader_crash_to_new_leader_and_writes(cluster, probe, power):
    old = probe.leader()
    began = real_clock.now()
    power.crash_node(old, method="destroy")

    def new_leader_accepts_writes():
        leader = probe.leader()
        if leader in (None, old):
            return False
        probe.put("gauntlet/test/after-leader-crash", "ok")
        return leader

    new = wait_until(new_leader_accepts_writes, 15, interval=0.05, clock=real_clock,
                     description="a new leader that accepts writes").value
    measured(f"leader crash ({old}) to new leader ({new}) accepting writes",
             real_clock.now() - began)
    power.start_node(old)
    wait_healthy(probe)
    measured(f"leader crash ({old}) to healthy cluster, all 3 members",
             real_clock.now() - began)
    assert probe.get("gauntlet/test/after-leader-crash", node=old) == "ok"


def test_pause_and_resume(cluster, probe, power):
    probe.move_leader("n13")  # freeze the leader: the worst case
    paused_pid = cluster.node("n13").status()["etcd_pid"]
    began = real_clock.now()
    power.pause_node("n13")
    assert power.node_state("n13") == "paused"
    with open(f"/proc/{paused_pid}/stat") as handle:
        assert handle.read().rsplit(") ", 1)[1][0] == "T"  # stopped by SIGSTOP
    # the other two elect a leader first (a frozen leader is a failed leader)
    fast = EtcdProbe({n: probe.endpoints[n] for n in ("n11", "n12")}, timeout=0.5)
    wait_until(fast.has_quorum, 10, interval=0.05, clock=real_clock,
               description="quorum without the paused member")
    measured("pause of the leader to quorum again", real_clock.now() - began)
    assert probe.member_health()["n13"] is False
    assert probe.has_quorum()
    assert probe.leader() in ("n11", "n12")
    power.resume_node("n13")
    assert power.node_state("n13") == "running"
    assert cluster.node("n13").status()["etcd_pid"] == paused_pid  # the same process carries on
    wait_healthy(probe)


def test_graceful_restart_and_whole_cluster_stop_start(cluster, probe, power):
    etcd_before = cluster.node("n11").status()["etcd_pid"]
    power.restart_node("n11", method="graceful")
    assert cluster.node("n11").status()["etcd_pid"] != etcd_before
    wait_healthy(probe)
    probe.put("gauntlet/test/before-cluster-stop", "kept")
    power.stop_cluster()
    assert {power.node_state(n) for n in power.nodes()} == {"stopped"}
    assert probe.member_health() == {"n11": False, "n12": False, "n13": False}
    assert not any(probe.admin_ui(n) for n in power.nodes())
    began = real_clock.now()
    power.start_cluster()
    wait_healthy(probe)
    measured("cluster start after full stop to healthy", real_clock.now() - began)
    assert probe.get("gauntlet/test/before-cluster-stop") == "kept"


def test_unknown_node_and_method(power):
    with pytest.raises(KeyError):
        power.node_state("n99")
    with pytest.raises(ValueError):
        power.crash_node("n11", method="meteor")
    with pytest.raises(ValueError):
        power.restart_node("n11", method="kick")


def test_probe_never_raises_for_unreachable_members():
    probe = EtcdProbe({"x": "http://127.0.0.1:9"}, timeout=0.3)  # discard port: nothing there
    assert probe.member_health() == {"x": False}
    assert probe.leader() is None
    assert not probe.has_quorum()
    assert not probe.admin_ui("x")
    with pytest.raises(EtcdError):
        probe.put("k", "v")


def test_node_names_map_to_loopback_node_addresses_only():
    from gauntlet.local.nodes.node import NodeError, node_address

    assert node_address("n11") == "127.0.0.11"
    for bad in ("n1", "n0", "n255", "node11", "127.0.0.1"):
        with pytest.raises(NodeError):
            node_address(bad)
    assert socket.inet_aton(node_address("n13"))
