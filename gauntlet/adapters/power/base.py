"""The power-control interface every provider implements, and the one error for what it cannot.

Operations (workflow step -> method): stop_cluster, start_cluster, stop_node, start_node,
restart_node(method="ssh"|"graceful"), crash_node(method="ssh"|"destroy"). Which provider can do
what is data: ``gauntlet/adapters/power/matrix.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import List

NODE_STATES = ("running", "stopped", "paused", "unknown")


def unsupported(provider: str, operation: str) -> NotImplementedError:
    """The error for an operation a provider cannot do, naming the universal alternative."""
    return NotImplementedError(
        f"{provider}: {operation} is not supported by this provider's API; "
        f"use the SSH method instead (restart_node/crash_node with method: \"ssh\") "
        f"or power the node from the provider's console")


class PowerControl(ABC):
    """Power operations on the nodes of one cluster. Adapters never assert; they raise."""

    provider: str = "abstract"

    @abstractmethod
    def nodes(self) -> List[str]:
        """Node names in cluster order (e.g. ["n11", "n12", "n13"])."""

    @abstractmethod
    def node_state(self, node: str) -> str:
        """One of NODE_STATES, as the provider sees the node now."""

    @abstractmethod
    def stop_node(self, node: str) -> None: ...

    @abstractmethod
    def start_node(self, node: str) -> None: ...

    @abstractmethod
    def restart_node(self, node: str, method: str = "ssh") -> None: ...

    @abstractmethod
    def crash_node(self, node: str, method: str = "ssh") -> None: ...

    def stop_cluster(self) -> None:
        for node in self.nodes():
            self.stop_node(node)

    def start_cluster(self) -> None:
        for node in self.nodes():
            self.start_node(node)
