"""The universal power methods: reboot and hard crash from inside the guest, over SSH.

Every provider uses these for ``restart_node(method="ssh")`` and ``crash_node(method="ssh")``:

- :func:`ssh_restart` runs ``sudo reboot``.
- :func:`ssh_crash` writes ``b`` to the SysRq trigger (immediate reset, no sync) and falls back
  to ``sudo poweroff -f`` when that write fails.

Losing the connection after the command was sent is what these commands do to a machine, so it
is a success (``PowerCommandResult.disconnected``), not an error. Failing to connect or log in
before the command was sent raises :class:`PowerCommandError`.

Safety: both refuse (:class:`UnsafeTarget`, before any connection) a host that is this machine
(127.0.0.1, localhost, its host name, any of its addresses) or cannot be resolved, unless it is a
local node registered by ``LocalCluster`` (127.0.0.11-13 behind the node-control shim), reached
on its registered port and verified by its registered host key.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Set

import paramiko

from gauntlet.local.nodes import registry

RESTART_COMMAND = "sudo reboot"
SYSRQ_CRASH_COMMAND = "echo b | sudo tee /proc/sysrq-trigger"
POWEROFF_COMMAND = "sudo poweroff -f"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class UnsafeTarget(PermissionError):
    """The host is this machine (or unknown): no reboot, poweroff or SysRq may be sent to it."""


class PowerCommandError(RuntimeError):
    """The power command could not be delivered (connection or login failed), or it failed."""


@dataclass
class PowerCommandResult:
    host: str
    port: int
    command: str
    exit_code: Optional[int]      # None: the connection ended without an exit status
    disconnected: bool            # the SSH connection was lost after the command was sent
    stdout: str = ""
    stderr: str = ""
    attempts: List["PowerCommandResult"] = field(default_factory=list)  # ssh_crash: each try

    @property
    def method(self) -> str:
        return "sysrq" if "sysrq-trigger" in self.command else self.command


# -- the guard -----------------------------------------------------------------------------------


def _ip(text: str) -> Optional[ipaddress._BaseAddress]:
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def local_addresses() -> Set[str]:
    """Every address of this machine: kernel LOCAL routes (IPv4) and interface addresses (IPv6)."""
    found: Set[str] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        for previous, line in zip(lines, lines[1:], strict=False):
            if "/32 host LOCAL" in line and "|--" in previous:
                found.add(previous.split("|--")[1].strip())
    except OSError:
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            found.add(str(ipaddress.IPv6Address(int(raw, 16))))
    except (OSError, ValueError, IndexError):
        pass
    return found


def local_names() -> Set[str]:
    names = set(_LOCAL_NAMES)
    try:
        names.add(socket.gethostname().lower())
    except OSError:
        pass
    try:
        names.add(Path("/etc/hostname").read_text().strip().lower())
    except OSError:
        pass
    names.discard("")
    return names


def _resolve(name: str) -> Set[str]:
    literal = _ip(name)
    if literal is not None:
        return {str(literal)}
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:  # includes the network guard's BlockedConnection
        raise UnsafeTarget(f"refusing {name!r}: it does not resolve ({error}); an unknown host "
                           "might be this machine") from error
    return {str(_ip(info[4][0])) for info in infos}


def refuse_local_machine(host: str, port: Optional[int] = None) -> Optional[registry.Registration]:
    """Raise :class:`UnsafeTarget` if ``host`` is this machine, unless it is a registered local node.

    Returns the node's registration (to pin its host key) for a registered local node, None for
    a remote host. ``port``, when given, must be the node's registered SSH port.
    """
    name = (host or "").strip().strip("[]").lower()
    if not name:
        raise UnsafeTarget("refusing an empty host name")
    addresses = _resolve(name)
    mine = local_addresses()
    is_local = name in local_names() or any(
        (ip := _ip(address)) is None or ip.is_loopback or ip.is_unspecified or address in mine
        for address in addresses)
    if not is_local:
        return None
    nodes = {address: registry.lookup(address) for address in addresses}
    if name not in local_names() and len(nodes) == 1:
        node = next(iter(nodes.values()))
        if node is not None and (port is None or int(port) == node.ssh_port):
            return node
        if node is not None:
            raise UnsafeTarget(f"refusing {host}:{port}: local node {node.node} listens for SSH on "
                               f"port {node.ssh_port}, anything else there is this machine")
    raise UnsafeTarget(f"refusing {host!r} ({', '.join(sorted(addresses))}): it is this machine "
                       "and not a local node behind the node-control shim; reboot, poweroff and "
                       "SysRq are never sent to the machine running the suite")


# -- commands ------------------------------------------------------------------------------------


def _client(host: str, port: int, node: Optional[registry.Registration]) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if node is not None:  # a local node: only its own host key will do
        key_type, key_data = node.host_key.split()[:2]
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data))
        client.get_host_keys().add(host if port == 22 else f"[{host}]:{port}", key_type, key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
    else:
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    return client


def run_power_command(host: str, command: str, user: str, key_file: str, port: int = 22,
                      timeout: float = 10.0) -> PowerCommandResult:
    """Run a command that may take the host down; the guard runs first.

    Returns when the command exits, the connection drops, or nothing arrives for ``timeout``
    seconds. Raises :class:`UnsafeTarget` or :class:`PowerCommandError` (not delivered).
    """
    node = refuse_local_machine(host, port)
    client = _client(host, port, node)
    try:
        try:
            client.connect(host, port=port, username=user,
                           key_filename=str(Path(key_file).expanduser()), timeout=timeout,
                           banner_timeout=timeout, auth_timeout=timeout, allow_agent=False,
                           look_for_keys=False)
            channel = client.get_transport().open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise PowerCommandError(f"could not send {command!r} to {user}@{host}:{port}: "
                                    f"{type(error).__name__}: {error}") from error
        stdout, stderr = bytearray(), bytearray()
        disconnected = False
        try:
            while True:
                data = channel.recv(4096)
                if not data:
                    break
                stdout += data
            while channel.recv_stderr_ready():
                stderr += channel.recv_stderr(4096)
            channel.status_event.wait(timeout)
        except (socket.timeout, paramiko.SSHException, OSError, EOFError):
            disconnected = True
        exit_code = channel.exit_status if channel.exit_status_ready() else None
        if exit_code == -1:
            exit_code = None
        transport = client.get_transport()
        if exit_code is None or transport is None or not transport.is_active():
            disconnected = True
        return PowerCommandResult(host, port, command, exit_code, disconnected,
                                  stdout.decode(errors="replace"), stderr.decode(errors="replace"))
    finally:
        client.close()


def ssh_restart(host: str, port: int = 22, user: str = "root", key_file: str = "~/.ssh/id_rsa",
                timeout: float = 10.0) -> PowerCommandResult:
    """Reboot ``host`` with ``sudo reboot``. A dropped connection counts as success; a non-zero
    exit status raises :class:`PowerCommandError`."""
    result = run_power_command(host, RESTART_COMMAND, user, key_file, port, timeout)
    if result.exit_code not in (None, 0):
        raise PowerCommandError(f"{RESTART_COMMAND!r} on {host}:{port} exited "
                                f"{result.exit_code}: {result.stderr.strip()}")
    return result


def ssh_crash(host: str, port: int = 22, user: str = "root", key_file: str = "~/.ssh/id_rsa",
              timeout: float = 10.0) -> PowerCommandResult:
    """Crash ``host``: SysRq ``b`` (reset without sync); if that write fails, ``poweroff -f``.

    Returns the attempt that took the host down (all attempts in ``attempts``); raises
    :class:`PowerCommandError` when neither did.
    """
    sysrq = run_power_command(host, SYSRQ_CRASH_COMMAND, user, key_file, port, timeout)
    if sysrq.exit_code in (None, 0):
        sysrq.attempts = [sysrq]
        return sysrq
    poweroff = run_power_command(host, POWEROFF_COMMAND, user, key_file, port, timeout)
    poweroff.attempts = [sysrq, poweroff]
    if poweroff.exit_code not in (None, 0):
        raise PowerCommandError(
            f"crash of {host}:{port} failed: {SYSRQ_CRASH_COMMAND!r} exited {sysrq.exit_code} "
            f"({sysrq.stderr.strip()}), {POWEROFF_COMMAND!r} exited {poweroff.exit_code} "
            f"({poweroff.stderr.strip()})")
    return poweroff
