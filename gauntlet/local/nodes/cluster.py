"""A real local 3-node cluster to break: nodes n11-n13, each an etcd member with its own sshd.

    cluster = LocalCluster(run_dir, on_started=run.ledger.record).start()
    cluster.probe().put("k", "v")             # gauntlet.adapters.etcd.EtcdProbe
    cluster.power().crash_node("n12", "ssh")  # gauntlet.adapters.power.local.LocalPower
    cluster.stop(remove=True)

Each node runs under one supervised "machine" process (``machine.py``) that owns its etcd
member and sshd; the node's sshd hands every command to the node-control shim (``shim.py``).
Only 127.0.0.2-254 is ever bound (n11-n13 -> 127.0.0.11-13 by default).

Manual use::

    python -m gauntlet.local.nodes.cluster up --dir /tmp/c      # prints addresses, ports, key
    python -m gauntlet.local.nodes.cluster status --dir /tmp/c
    python -m gauntlet.local.nodes.cluster down --dir /tmp/c [--remove]

Concurrent clusters on the same addresses would collide, so a cluster holds an exclusive lock
(``/tmp/gauntlet-local-nodes.lock``) while it runs in this process; a second one waits for it.
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from gauntlet.clock import Clock, WaitTimeout, real_clock, wait_until
from gauntlet.local import supervisor
from gauntlet.local.nodes import keys, registry
from gauntlet.local.nodes.machine import MACHINE_MARKER
from gauntlet.local.nodes.node import Node, free_port, port_free

DEFAULT_NODES = ("n11", "n12", "n13")
LOCK_PATH = Path("/tmp/gauntlet-local-nodes.lock")
PROJECT_ROOT = Path(__file__).resolve().parents[3]

Record = Callable[..., object]  # (kind, ident, **attrs): the harness ledger's ``record``


class ClusterError(RuntimeError):
    """The cluster could not start (missing package, busy port, unhealthy in time)."""


def _binary(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}")
                                   else None)
    if not found:
        raise ClusterError(f"{name} not found: install the Debian package {package} "
                           f"(apt-get install -y {package})")
    return os.path.abspath(found)


class LocalCluster:
    """The local nodes of one run, in ``run_dir`` (created; data, configs, keys, logs).

    ``on_started(kind, ident, **attrs)`` is called for the run directory (kind ``directory``)
    and for each node's machine process (kind ``process``, with ``marker``), before the run
    relies on them; ``on_stopped(kind, ident)`` when they are gone. ``boot_delay`` is how long a
    rebooting node stays down (seconds).
    """

    def __init__(self, run_dir: Path, nodes: Sequence[str] = DEFAULT_NODES,
                 on_started: Optional[Record] = None, on_stopped: Optional[Record] = None,
                 boot_delay: float = 0.5, heartbeat_ms: int = 100, election_ms: int = 1000,
                 ssh_port: int = 22, lock_timeout: float = 120.0,
                 clock: Optional[Clock] = None) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.nodes: List[Node] = [Node(name, self.run_dir / name) for name in nodes]
        self.on_started = on_started
        self.on_stopped = on_stopped
        self.boot_delay = boot_delay
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.preferred_ssh_port = ssh_port
        self.lock_timeout = lock_timeout
        self.clock = clock or real_clock
        self.user = getpass.getuser()
        self.key_file = self.run_dir / "keys" / "id_ed25519"
        self.known_hosts = self.run_dir / "keys" / "known_hosts"
        self.host_keys: Dict[str, str] = {}
        self.startup_seconds: Optional[float] = None
        self._services: Dict[str, supervisor.Service] = {}
        self._lock_fd: Optional[int] = None

    # -- lookup ---------------------------------------------------------------------------------

    @property
    def node_names(self) -> List[str]:
        return [node.name for node in self.nodes]

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no local node {name!r} (nodes: {', '.join(self.node_names)})")

    @property
    def addresses(self) -> Dict[str, str]:
        return {node.name: node.address for node in self.nodes}

    @property
    def endpoints(self) -> Dict[str, str]:
        """node -> etcd client URL."""
        return {node.name: node.client_url for node in self.nodes}

    @property
    def ssh_endpoints(self) -> Dict[str, Tuple[str, int]]:
        return {node.name: (node.address, node.ssh_port) for node in self.nodes}

    def probe(self, timeout: float = 1.5):
        from gauntlet.adapters.etcd import EtcdProbe

        return EtcdProbe(self.endpoints, timeout=timeout,
                         metrics={node.name: node.metrics_url for node in self.nodes})

    def power(self):
        from gauntlet.adapters.power.local import LocalPower

        return LocalPower(self)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> "LocalCluster":
        """Generate keys and configs, start every node, wait until all members are healthy.

        Raises :class:`ClusterError` (after stopping what it started) when a binary is missing, a
        port is taken or the cluster is not healthy within ``timeout``.
        """
        etcd = _binary("etcd", "etcd-server")
        sshd = _binary("sshd", "openssh-server")
        self._acquire_lock()
        try:
            self._start(etcd, sshd, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, etcd: str, sshd: str, timeout: float) -> None:
        if self.leftover_processes():
            raise ClusterError(f"processes of an earlier cluster still run in {self.run_dir}: "
                               f"`python -m gauntlet.local.nodes.cluster down --dir {self.run_dir}`")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._record("directory", str(self.run_dir), name="local-nodes")
        self._check_ports()
        _privsep_dir()
        label = "gauntlet-" + hashlib.sha1(str(self.run_dir).encode()).hexdigest()[:10]
        run_keys = keys.run_keys(self.run_dir / "keys", self.node_names, label)
        self.host_keys = {name: run_keys.host_public_key(name) for name in self.node_names}
        initial = ",".join(f"{node.name}={node.peer_url}" for node in self.nodes)
        pythonpath = os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                   os.environ.get("PYTHONPATH", "")]))
        for node in self.nodes:
            node.write_config(
                {"node": node.name, "dir": str(node.dir), "client_url": node.client_url,
                 "boot_delay": self.boot_delay,
                 "etcd_argv": node.etcd_argv(etcd, initial, label, self.heartbeat_ms,
                                             self.election_ms),
                 "sshd_argv": [sshd, "-D", "-e", "-f", str(node.sshd_config_path)]},
                node.sshd_config(run_keys.host_keys[node.name], run_keys.authorized_keys,
                                 self.user, sys.executable, pythonpath))
        keys.write_known_hosts(self.known_hosts, [(n.address, n.ssh_port, self.host_keys[n.name])
                                                  for n in self.nodes])
        self.save()
        env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONUNBUFFERED="1")
        began = self.clock.now()
        for node in self.nodes:
            self._start_machine(node, env)
        self.save()
        for node in self.nodes:
            registry.register(registry.Registration(node.name, node.address, node.ssh_port,
                                                    self.host_keys[node.name], str(node.dir)))
        self.wait_healthy(max(timeout - (self.clock.now() - began), 1.0))
        self.startup_seconds = self.clock.now() - began

    def _start_machine(self, node: Node, env: dict) -> None:
        def on_started(service: supervisor.Service) -> None:
            node.machine_pid = service.pid
            self._record("process", service.pid, name=f"local-node-{node.name}",
                         marker=f"{MACHINE_MARKER} --config {node.config_path}")

        try:
            service = supervisor.start(
                f"local-node-{node.name}",
                [sys.executable, "-m", MACHINE_MARKER, "--config", str(node.config_path)],
                node.logs / "machine.log", ready=node.ready, timeout=15, env=env, cwd=node.dir,
                on_started=on_started, clock=self.clock)
        except supervisor.ServiceError as error:
            raise ClusterError(f"{error}\n--- etcd ---\n{supervisor.tail(node.logs / 'etcd.log')}"
                               f"\n--- sshd ---\n{supervisor.tail(node.logs / 'sshd.log')}") \
                from error
        self._services[node.name] = service

    def wait_healthy(self, timeout: float = 15.0) -> float:
        """Wait until every member reports healthy; returns the seconds it took."""
        probe = self.probe(timeout=0.5)
        try:
            result = wait_until(lambda: all(probe.member_health().values()), timeout,
                                interval=0.05, description="every etcd member to be healthy",
                                clock=self.clock)
        except WaitTimeout as error:
            logs = "\n".join(f"--- {n.name} etcd ---\n{supervisor.tail(n.logs / 'etcd.log', 8)}"
                             for n in self.nodes)
            raise ClusterError(f"local cluster not healthy: {error}\n{logs}") from error
        return result.elapsed

    def stop(self, remove: bool = False) -> None:
        """Stop every node (by process group) and anything left in the run dir; with ``remove``
        also delete the run dir. Safe to call more than once and after a failed start."""
        for node in reversed(self.nodes):
            registry.unregister(node.address)
            service = self._services.pop(node.name, None)
            if service is not None:
                supervisor.stop(service, timeout=15)
            elif node.machine_pid and MACHINE_MARKER in supervisor.cmdline(node.machine_pid):
                supervisor.stop_process_group(node.machine_pid, timeout=15)
            if node.machine_pid:
                self._released("process", node.machine_pid)
        for pid in self.leftover_processes():  # belt and braces: nothing of this run survives
            supervisor.stop_process_group(pid, timeout=5)
        self._release_lock()
        if remove and self.run_dir.exists():
            shutil.rmtree(self.run_dir)
            self._released("directory", str(self.run_dir))

    def leftover_processes(self) -> List[int]:
        """Live processes whose command line names this run dir (machines, etcd, sshd)."""
        needle = str(self.run_dir) + "/"
        mine = os.getpid()
        return [pid for pid in _live_pids()
                if pid != mine and needle in supervisor.cmdline(pid)]

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- persistence ----------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "user": self.user, "key_file": str(self.key_file),
                "known_hosts": str(self.known_hosts), "boot_delay": self.boot_delay,
                "host_keys": self.host_keys, "nodes": [node.to_dict() for node in self.nodes],
                "endpoints": self.endpoints}

    def save(self) -> None:
        path = self.run_dir / "cluster.json"
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def attach(cls, run_dir: Path, register: bool = True) -> "LocalCluster":
        """The cluster described by ``run_dir/cluster.json`` (started by another process)."""
        data = json.loads((Path(run_dir) / "cluster.json").read_text())
        cluster = cls(run_dir, [n["name"] for n in data["nodes"]],
                      boot_delay=data.get("boot_delay", 0.5))
        cluster.nodes = [Node.from_dict(n) for n in data["nodes"]]
        cluster.host_keys = data.get("host_keys", {})
        if register:
            for node in cluster.nodes:
                if node.name in cluster.host_keys:
                    registry.register(registry.Registration(
                        node.name, node.address, node.ssh_port, cluster.host_keys[node.name],
                        str(node.dir)))
        return cluster

    # -- internals ------------------------------------------------------------------------------

    def _record(self, kind: str, ident, **attrs) -> None:
        if self.on_started:
            self.on_started(kind, str(ident), **attrs)

    def _released(self, kind: str, ident) -> None:
        if self.on_stopped:
            self.on_stopped(kind, str(ident))

    def _check_ports(self) -> None:
        busy = []
        for node in self.nodes:
            for port in (node.client_port, node.peer_port, node.metrics_port):
                if not port_free(node.address, port):
                    busy.append(f"{node.address}:{port}")
            preferred = self.preferred_ssh_port
            node.ssh_port = preferred if preferred and port_free(node.address, preferred) \
                else free_port(node.address)
        if busy:
            raise ClusterError(f"ports in use: {', '.join(busy)} (another local cluster? "
                               f"`python -m gauntlet.local.nodes.cluster down --dir DIR`)")

    def _acquire_lock(self) -> None:
        if self._lock_fd is not None:
            return
        fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)

        def locked() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            wait_until(locked, self.lock_timeout, interval=0.2,
                       description=f"the local-nodes lock {LOCK_PATH}", clock=self.clock)
        except WaitTimeout as error:
            os.close(fd)
            raise ClusterError(f"another local cluster holds {LOCK_PATH}: {error}") from error
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None


def _privsep_dir() -> None:
    """sshd needs its privilege-separation directory /run/sshd (root-owned, not writable by
    others); Debian's package creates it only when its service starts."""
    path = Path("/run/sshd")
    if not path.is_dir():
        try:
            path.mkdir(mode=0o755, parents=True)
        except OSError as error:
            raise ClusterError(f"sshd needs {path}: {error} (create it as root, mode 0755)") \
                from error


def _live_pids() -> List[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and supervisor.pid_alive(int(entry)):
            pids.append(int(entry))
    return pids


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gauntlet.local.nodes.cluster",
                                     description="Start or stop a local etcd+sshd cluster.")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--remove", action="store_true", help="down: also delete the directory")
    args = parser.parse_args(argv)
    if args.command == "up":
        cluster = LocalCluster(args.dir).start()
        for service in cluster._services.values():
            service.keep = True  # outlive this command
        print(json.dumps(dict(cluster.to_dict(), startup_seconds=round(cluster.startup_seconds, 3)),
                         indent=2))
        return 0
    if not (args.dir / "cluster.json").exists():
        print(f"no local cluster in {args.dir}", file=sys.stderr)
        return 1
    cluster = LocalCluster.attach(args.dir)
    if args.command == "status":
        states = {node.name: node.state() for node in cluster.nodes}
        health = cluster.probe().member_health()
        print(json.dumps({"states": states, "health": health}, indent=2))
        return 0
    cluster.stop(remove=args.remove)
    print(f"stopped local cluster in {args.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
