"""Which addresses are local nodes behind the node-control shim, in this process.

``LocalCluster`` registers each node once its sshd runs with the shim as ``ForceCommand`` and
unregisters it when the cluster stops. The SSH power methods (``gauntlet.adapters.power.ssh``)
consult it: a target that resolves to this machine is acceptable only if it is a registered
node, on its registered port, and then only with its registered host key pinned.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, List, Optional


@dataclass(frozen=True)
class Registration:
    node: str
    address: str
    ssh_port: int
    host_key: str       # "ssh-ed25519 AAAA..." of the node's sshd
    control_dir: str    # where the node's machine socket and shim log live


_lock = threading.Lock()
_nodes: Dict[str, Registration] = {}


def register(registration: Registration) -> None:
    with _lock:
        _nodes[registration.address] = registration


def unregister(address: str) -> None:
    with _lock:
        _nodes.pop(address, None)


def lookup(address: str) -> Optional[Registration]:
    with _lock:
        return _nodes.get(address)


def registered() -> List[Registration]:
    with _lock:
        return list(_nodes.values())
