"""gauntlet.adapters.power.ssh: the SSH reboot and crash methods, their guard, and the shim path.

Safety: the guard tests never open a connection (paramiko's connect is replaced by a tripwire)
and never resolve a name outside /etc/hosts (``getaddrinfo`` is stubbed for unknown names).
Only local nodes behind the node-control shim (127.0.0.11-13, started here) ever receive
``sudo reboot``, SysRq or ``poweroff -f``; the shim maps them to that node's processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket

import paramiko
import pytest

from gauntlet.adapters import ssh as ssh_adapter
from gauntlet.adapters.power import ssh
from gauntlet.adapters.power.ssh import (
    POWEROFF_COMMAND,
    SYSRQ_CRASH_COMMAND,
    PowerCommandError,
    PowerCommandResult,
    UnsafeTarget,
    refuse_local_machine,
    ssh_crash,
    ssh_restart,
)
from gauntlet.clock import real_clock, wait_until
from gauntlet.local import supervisor
from gauntlet.local.nodes import registry
from gauntlet.local.nodes.cluster import LocalCluster

needs_packages = pytest.mark.skipif(
    not (shutil.which("etcd") and os.path.exists("/usr/sbin/sshd")),
    reason="needs Debian packages etcd-server and openssh-server")


@pytest.fixture
def no_connections(monkeypatch):
    """Any SSH connection attempt fails the test."""
    def tripwire(*args, **kwargs):
        raise AssertionError(f"an SSH connection was attempted: {args} {kwargs}")

    monkeypatch.setattr(paramiko.SSHClient, "connect", tripwire)


@pytest.fixture
def offline_names(monkeypatch):
    """Names other than this machine's own resolve to nothing (no DNS query ever leaves)."""
    real = socket.getaddrinfo
    local = {"localhost", socket.gethostname().lower()}

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.lower() not in local:
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def no_nodes(monkeypatch):
    """As if no local node were registered (whatever else runs in this process)."""
    monkeypatch.setattr(registry, "lookup", lambda address: None)


# -- the guard ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "LOCALHOST", "::1", "0.0.0.0", "127.0.0.11", "127.0.0.12",
    "127.1.2.3", "::ffff:127.0.0.1", "[::1]", "", "gauntlet-unknown-host.invalid",
])
def test_guard_refuses_this_machine_and_unknown_hosts(host, offline_names, no_nodes):
    with pytest.raises(UnsafeTarget):
        refuse_local_machine(host)


def test_guard_refuses_this_machines_hostname_and_addresses(offline_names, no_nodes):
    with pytest.raises(UnsafeTarget):
        refuse_local_machine(socket.gethostname())
    addresses = ssh.local_addresses()
    assert "127.0.0.1" in addresses
    for address in addresses:
        with pytest.raises(UnsafeTarget):
            refuse_local_machine(address)


def test_guard_lets_remote_hosts_through():
    assert refuse_local_machine("203.0.113.7") is None  # TEST-NET-3: an address literal, no I/O
    assert refuse_local_machine("2001:db8::7", 22) is None


def test_guard_accepts_a_registered_node_on_its_port_only(offline_names):
    node = registry.Registration("n77", "127.0.0.77", 2222, "ssh-ed25519 AAAA", "/nonexistent")
    registry.register(node)
    try:
        assert refuse_local_machine("127.0.0.77") == node
        assert refuse_local_machine("127.0.0.77", 2222) == node
        with pytest.raises(UnsafeTarget, match="port 2222"):
            refuse_local_machine("127.0.0.77", 22)
        with pytest.raises(UnsafeTarget):
            refuse_local_machine("127.0.0.1", 2222)
    finally:
        registry.unregister("127.0.0.77")
    with pytest.raises(UnsafeTarget):
        refuse_local_machine("127.0.0.77", 2222)


@pytest.mark.parametrize("call", [ssh_restart, ssh_crash])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.0.0.11"])
def test_power_commands_refuse_before_connecting(call, host, no_connections, offline_names,
                                                no_nodes):
    with pytest.raises(UnsafeTarget):
        call(host, 22, "root", "/nonexistent/key")
    with pytest.raises(UnsafeTarget):
        call(socket.gethostname(), 22, "root", "/nonexistent/key")


# -- crash fallback (the command runner replaced) ---------------------------------------------


def fake_runner(monkeypatch, codes):
    sent = []

    def run(host, command, user, key_file, port=22, timeout=10.0):
        sent.append(command)
        code = codes[command]
        return PowerCommandResult(host, port, command, code, code is None, "", "denied" if code else "")

    monkeypatch.setattr(ssh, "run_power_command", run)
    return sent


def test_crash_uses_sysrq_and_a_dropped_connection_is_success(monkeypatch):
    sent = fake_runner(monkeypatch, {SYSRQ_CRASH_COMMAND: None})
    result = ssh_crash("203.0.113.7", 22, "root", "k")
    assert sent == [SYSRQ_CRASH_COMMAND]
    assert result.method == "sysrq" and result.disconnected


def test_crash_falls_back_to_poweroff_when_sysrq_fails(monkeypatch):
    sent = fake_runner(monkeypatch, {SYSRQ_CRASH_COMMAND: 1, POWEROFF_COMMAND: None})
    result = ssh_crash("203.0.113.7", 22, "root", "k")
    assert sent == [SYSRQ_CRASH_COMMAND, POWEROFF_COMMAND]
    assert result.command == POWEROFF_COMMAND and len(result.attempts) == 2


def test_crash_raises_when_nothing_worked(monkeypatch):
    fake_runner(monkeypatch, {SYSRQ_CRASH_COMMAND: 1, POWEROFF_COMMAND: 1})
    with pytest.raises(PowerCommandError, match="poweroff"):
        ssh_crash("203.0.113.7", 22, "root", "k")


def test_restart_raises_on_a_failing_reboot(monkeypatch):
    fake_runner(monkeypatch, {"sudo reboot": 1})
    with pytest.raises(PowerCommandError):
        ssh_restart("203.0.113.7", 22, "root", "k")


# -- through real sshd and the shim -------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("gauntlet-ssh-nodes") / "cluster"
    cluster = LocalCluster(run_dir, boot_delay=0.3).start(timeout=30)
    yield cluster
    cluster.stop(remove=True)
    assert cluster.leftover_processes() == []
    assert not run_dir.exists()


def pids(cluster) -> dict:
    return {node.name: (node.status()["etcd_pid"], node.status()["sshd_pid"])
            for node in cluster.nodes}


def shell(cluster, node: str, command: str):
    handle = cluster.node(node)
    return ssh_adapter.run(handle.address, command, cluster.user, str(cluster.key_file),
                           port=handle.ssh_port)


@needs_packages
def test_ssh_reboot_restarts_only_that_node(cluster, power):
    before = pids(cluster)
    began = real_clock.now()
    power.restart_node("n12", method="ssh")
    print(f"\n[timing] ssh reboot of n12 to serving again: {real_clock.now() - began:.3f} s")
    after = pids(cluster)
    assert after["n12"][0] != before["n12"][0] and after["n12"][1] != before["n12"][1]
    assert after["n11"] == before["n11"] and after["n13"] == before["n13"]
    status = cluster.node("n12").status()
    assert status["last_exit"]["etcd"]["signal"] == 15, "a reboot stops etcd gracefully"
    assert power.node_state("n12") == "running"
    cluster.wait_healthy(15)
    log = (cluster.node("n12").logs / "shim.log").read_text()
    assert '"command": "sudo reboot"' in log and "power reboot" in log


@needs_packages
def test_ssh_crash_kills_only_that_nodes_member(cluster, power):
    before = pids(cluster)
    crashes = cluster.node("n13").status()["crashes"]
    began = real_clock.now()
    power.crash_node("n13", method="ssh")
    status = cluster.node("n13").status()
    assert status["crashes"] == crashes + 1
    etcd_exit = status["last_exit"]["etcd"]
    assert (etcd_exit["pid"], etcd_exit["signal"]) == (before["n13"][0], 9), "kill -9"
    assert not supervisor.pid_alive(before["n13"][0])
    assert pids(cluster)["n11"] == before["n11"] and pids(cluster)["n12"] == before["n12"]
    # SysRq b is a reset: the node boots again by itself, on its own data
    wait_until(lambda: cluster.node("n13").ready(), 10, interval=0.02, clock=real_clock,
               description="n13 to boot again")
    cluster.wait_healthy(15)
    print(f"\n[timing] ssh SysRq crash of n13 to healthy cluster: {real_clock.now() - began:.3f} s")


@needs_packages
def test_ssh_crash_result_and_poweroff_force_stays_off(cluster, power):
    node = cluster.node("n11")
    result = ssh_crash(node.address, node.ssh_port, cluster.user, str(cluster.key_file))
    assert result.method == "sysrq" and result.exit_code in (None, 0)
    wait_until(lambda: node.ready(), 10, interval=0.02, clock=real_clock,
               description="n11 back after SysRq b")
    assert shell(cluster, "n11", "sudo poweroff -f").exit_code in (-1, 0)
    wait_until(lambda: power.node_state("n11") == "stopped", 5, interval=0.02, clock=real_clock,
               description="n11 off")
    assert not cluster.node("n11").status()["booting"], "poweroff -f stays off"
    with pytest.raises(PowerCommandError):  # a powered-off node answers no SSH
        ssh_restart(node.address, node.ssh_port, cluster.user, str(cluster.key_file), timeout=3)
    power.start_node("n11")
    assert power.node_state("n11") == "running"


@needs_packages
def test_shim_answers_and_refuses_over_ssh(cluster):
    before = pids(cluster)
    assert shell(cluster, "n11", "hostname").stdout == "n11\n"
    status = shell(cluster, "n12", "etcdctl endpoint health")
    assert status.exit_code == 0 and "127.0.0.12:2379 is healthy" in status.stdout + status.stderr
    assert shell(cluster, "n13", "df -h /").exit_code == 0
    for command in ("rm -rf /", "cat /etc/shadow", "sudo -i", "bash -i"):
        result = shell(cluster, "n11", command)
        assert result.exit_code == 126 and "refused" in result.stderr
    assert pids(cluster) == before


@needs_packages
def test_node_host_key_is_pinned(cluster, monkeypatch):
    node = cluster.node("n11")
    other = registry.lookup("127.0.0.12")  # a real node key, but not n11's
    wrong = registry.Registration("n11", node.address, node.ssh_port, other.host_key,
                                  str(node.dir))
    monkeypatch.setattr(registry, "lookup", lambda address: wrong if address == node.address
                        else None)
    etcd_pid = node.status()["etcd_pid"]
    with pytest.raises(PowerCommandError):
        ssh_restart(node.address, node.ssh_port, cluster.user, str(cluster.key_file), timeout=3)
    assert node.status()["etcd_pid"] == etcd_pid, "nothing was sent to an unverified host"


@needs_packages
def test_events_record_every_power_operation(cluster):
    events = [json.loads(line)["event"] for line in
              (cluster.node("n13").dir / "events.jsonl").read_text().splitlines()]
    assert events[0] == "boot"
    assert "crash" in events
