"""The node-control protocol: one JSON request line, one JSON reply line, over a Unix socket.

Each node's machine process (``machine.py``) listens on ``<node dir>/machine.sock``; the SSH shim
and :class:`~gauntlet.local.nodes.node.Node` (hence ``LocalPower``) send it requests such as
``{"op": "status"}`` or ``{"op": "reboot", "origin": "ssh"}``. Kept free of heavy imports: the
shim loads it on every SSH command.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Optional, Tuple

SOCKET_NAME = "machine.sock"
_MAX_SUN_PATH = 100  # sockaddr_un holds 108 bytes; leave room


class MachineUnavailable(ConnectionError):
    """The node's machine process did not answer (not running, or too slow)."""


class MachineError(RuntimeError):
    """The machine answered with an error (an unknown op, say)."""


def socket_path(control_dir: Path) -> Path:
    return Path(control_dir) / SOCKET_NAME


def unix_address(path: Path) -> Tuple[str, Optional[int]]:
    """An address for ``path`` that fits sockaddr_un: the path itself, or, when too long,
    ``/proc/self/fd/N/<name>`` through an open descriptor of its directory (close it after)."""
    text = str(path)
    if len(text.encode()) < _MAX_SUN_PATH:
        return text, None
    fd = os.open(Path(path).parent, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{Path(path).name}", fd


def request(control_dir: Path, op: str, timeout: float = 15.0, **args) -> dict:
    """Send one request to the node's machine and return its reply (a dict with ``ok``).

    Raises :class:`MachineUnavailable` when nobody answers in ``timeout`` seconds and
    :class:`MachineError` when the machine refuses the request.
    """
    address, fd = unix_address(socket_path(control_dir))
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(timeout)
    try:
        conn.connect(address)
        conn.sendall((json.dumps(dict(args, op=op)) + "\n").encode())
        reply = read_line(conn)
    except (OSError, ValueError) as error:
        raise MachineUnavailable(f"node machine at {control_dir} did not answer {op!r}: {error}") \
            from error
    finally:
        conn.close()
        if fd is not None:
            os.close(fd)
    if not reply:
        raise MachineUnavailable(f"node machine at {control_dir} closed the connection ({op!r})")
    answer = json.loads(reply)
    if not answer.get("ok"):
        raise MachineError(answer.get("error") or f"{op!r} refused")
    return answer


def read_line(conn: socket.socket, limit: int = 65536) -> str:
    data = b""
    while not data.endswith(b"\n") and len(data) < limit:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()
