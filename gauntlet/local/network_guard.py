"""Network guard: offline runs may only reach 127.0.0.0/8 (and ::1), over TCP or UDP.

Installed by the offline target. Any connection or name lookup for another address raises
:class:`BlockedConnection` naming the address, so a stray call to a real cloud endpoint fails
loudly instead of leaving the machine. Every blocked attempt is also remembered, so a test can
prove that nothing tried to get out (requirement 004 R11.4).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import List

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class BlockedConnection(ConnectionRefusedError):
    """A connection outside 127.0.0.0/8 was attempted while the guard was on."""


_lock = threading.Lock()
_blocked: List[str] = []
_originals: dict = {}


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(host: object, port: object = None) -> None:
    where = f"{host}:{port}" if port is not None else str(host)
    with _lock:
        _blocked.append(where)
    raise BlockedConnection(
        f"network guard: blocked connection to {where} "
        "(the offline target allows only 127.0.0.0/8; use a real target for outside addresses)"
    )


def _check_address(family: int, address: object) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        host, port = address[0], address[1]
        if not is_loopback(str(host)):
            _refuse(host, port)


def _guarded_connect(self, address):
    _check_address(self.family, address)
    return _originals["connect"](self, address)


def _guarded_connect_ex(self, address):
    _check_address(self.family, address)
    return _originals["connect_ex"](self, address)


def _guarded_sendto(self, data, *args):
    _check_address(self.family, args[-1])  # sendto(data, address) or (data, flags, address)
    return _originals["sendto"](self, data, *args)


def _guarded_getaddrinfo(host, port, *args, **kwargs):
    if host is not None:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not is_loopback(name):
            _refuse(name, port)
    return _originals["getaddrinfo"](host, port, *args, **kwargs)


def install() -> None:
    """Turn the guard on for this process (idempotent)."""
    with _lock:
        if _originals:
            return
        _originals.update(connect=socket.socket.connect, connect_ex=socket.socket.connect_ex,
                          sendto=socket.socket.sendto, getaddrinfo=socket.getaddrinfo)
        socket.socket.connect = _guarded_connect
        socket.socket.connect_ex = _guarded_connect_ex
        socket.socket.sendto = _guarded_sendto
        socket.getaddrinfo = _guarded_getaddrinfo


def uninstall() -> None:
    with _lock:
        if not _originals:
            return
        socket.socket.connect = _originals["connect"]
        socket.socket.connect_ex = _originals["connect_ex"]
        socket.socket.sendto = _originals["sendto"]
        socket.getaddrinfo = _originals["getaddrinfo"]
        _originals.clear()


def installed() -> bool:
    return bool(_originals)


def blocked_attempts() -> List[str]:
    """Addresses the guard refused since the process started (oldest first)."""
    with _lock:
        return list(_blocked)
