"""One local node: its address and ports, its files, and the handle to its machine process.

Node ``nK`` is ``127.0.0.K`` (``n11`` -> ``127.0.0.11``): etcd client 2379, peer 2380 and
metrics 2381 bound to that address only, and an sshd on that address (port 22 when free, else a
free port, recorded). Everything about the node lives in ``<run dir>/<node>/``::

    machine.json   what the machine process runs (etcd and sshd argv, boot delay)
    sshd_config    the node's sshd: per-run host key, the run's user key, ForceCommand shim
    data/          the etcd member's data dir (kept across stop/start/crash: a disk)
    machine.sock   the machine's control socket (see control.py)
    events.jsonl   boots, shutdowns, crashes, pauses, process exits
    logs/          machine.log, etcd.log, sshd.log, shim.log
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from gauntlet.local.nodes import control

CLIENT_PORT, PEER_PORT, METRICS_PORT = 2379, 2380, 2381
SHIM_MODULE = "gauntlet.local.nodes.shim"
_NAME = re.compile(r"^n(\d{1,3})$")


class NodeError(RuntimeError):
    """A node name or address outside what local nodes may use."""


def node_address(name: str) -> str:
    """``n11`` -> ``127.0.0.11``. Only 127.0.0.2-254: never 127.0.0.1 (this machine's own)."""
    match = _NAME.match(name)
    if not match or not 2 <= int(match.group(1)) <= 254:
        raise NodeError(f"local node names are n2..n254 (address 127.0.0.K), not {name!r}")
    return f"127.0.0.{int(match.group(1))}"


def port_free(address: str, port: int) -> bool:
    """Nothing listens on (or holds) ``address:port``."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def free_port(address: str) -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((address, 0))
        return probe.getsockname()[1]
    finally:
        probe.close()


def accepts(address: str, port: int, timeout: float = 0.5) -> bool:
    """A TCP connection to ``address:port`` is accepted."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class Node:
    name: str
    dir: Path
    ssh_port: int = 22
    address: str = ""
    client_port: int = CLIENT_PORT
    peer_port: int = PEER_PORT
    metrics_port: int = METRICS_PORT
    machine_pid: Optional[int] = None

    def __post_init__(self) -> None:
        self.dir = Path(self.dir)
        self.address = self.address or node_address(self.name)
        if not ipaddress.ip_address(self.address).is_loopback or self.address == "127.0.0.1":
            raise NodeError(f"{self.name}: local nodes bind 127.0.0.2-254 only, not {self.address}")

    # -- addresses and files ------------------------------------------------------------------

    @property
    def client_url(self) -> str:
        return f"http://{self.address}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.address}:{self.peer_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.address}:{self.metrics_port}"

    @property
    def config_path(self) -> Path:
        return self.dir / "machine.json"

    @property
    def sshd_config_path(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def ports(self) -> List[int]:
        return [self.client_port, self.peer_port, self.metrics_port, self.ssh_port]

    # -- configuration --------------------------------------------------------------------------

    def etcd_argv(self, etcd: str, initial_cluster: str, token: str, heartbeat_ms: int = 100,
                  election_ms: int = 1000) -> List[str]:
        """The member's command line. ``--initial-cluster-state new`` is ignored by etcd once the
        data dir holds a WAL, so the same argv restarts the member on its existing data."""
        return [
            etcd, "--name", self.name, "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url, "--initial-advertise-peer-urls", self.peer_url,
            "--listen-metrics-urls", self.metrics_url,
            "--initial-cluster", initial_cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
            "--heartbeat-interval", str(heartbeat_ms), "--election-timeout", str(election_ms),
            "--logger", "zap", "--log-outputs", "stderr",
        ]

    def sshd_config(self, host_key: Path, authorized_keys: Path, user: str,
                    python: str = sys.executable, pythonpath: str = "") -> str:
        shim = [python, "-m", SHIM_MODULE, "--node", self.name, "--control-dir", str(self.dir)]
        prefix = f"exec env PYTHONPATH={shlex.quote(pythonpath)} " if pythonpath else "exec "
        return "\n".join([
            f"# Gauntlet local node {self.name}: every command goes to the node-control shim.",
            f"ListenAddress {self.address}:{self.ssh_port}",
            f"HostKey {host_key}",
            "PidFile none",
            f"AuthorizedKeysFile {authorized_keys}",
            f"AllowUsers {user}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PermitUserEnvironment no",
            "AllowTcpForwarding no",
            "AllowStreamLocalForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTunnel no",
            "PermitTTY no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "MaxStartups 50",
            "LogLevel INFO",
            f"ForceCommand {prefix}{shlex.join(shim)}",
            "",
        ])

    def write_config(self, machine: dict, sshd_config: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self.sshd_config_path.write_text(sshd_config)
        self.config_path.write_text(json.dumps(machine, indent=2) + "\n")

    def to_dict(self) -> dict:
        return {"name": self.name, "dir": str(self.dir), "address": self.address,
                "ssh_port": self.ssh_port, "client_port": self.client_port,
                "peer_port": self.peer_port, "metrics_port": self.metrics_port,
                "machine_pid": self.machine_pid}

    @classmethod
    def from_dict(cls, data: dict) -> "Node":
        return cls(**{key: data[key] for key in
                      ("name", "dir", "address", "ssh_port", "client_port", "peer_port",
                       "metrics_port", "machine_pid") if key in data})

    # -- the machine ----------------------------------------------------------------------------

    def request(self, op: str, timeout: float = 20.0, **args) -> dict:
        """One request to the node's machine process (see machine.py for the ops)."""
        return control.request(self.dir, op, timeout=timeout, **args)

    def status(self) -> dict:
        return self.request("status", timeout=5.0)

    def state(self) -> str:
        """running / stopped / paused as the machine sees it; unknown if it does not answer."""
        try:
            return self.status()["state"]
        except (control.MachineUnavailable, control.MachineError, KeyError):
            return "unknown"

    def serving(self) -> bool:
        """Powered on and listening: the etcd client port and sshd both accept connections."""
        return accepts(self.address, self.client_port) and accepts(self.address, self.ssh_port)

    def ready(self) -> bool:
        """The machine answers and its node is serving (the supervisor's readiness probe)."""
        return self.status().get("state") == "running" and self.serving()
