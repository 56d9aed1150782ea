"""What a check may look at: the cluster's power control, its database, SSH, the deploy dir.

Checks receive one :class:`CheckContext`. It also answers ``context["deploy_dir"]``, so checks
written for the original dict-style context (``context['deploy_dir']``) work unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol

from gauntlet.adapters.power.base import PowerControl


class DatabaseProbe(Protocol):
    """The database side of a cluster (``gauntlet.adapters.etcd.EtcdProbe`` implements it)."""

    def member_health(self) -> Dict[str, bool]: ...

    def leader(self) -> Optional[str]: ...

    def has_quorum(self) -> bool: ...

    def put(self, key: str, value: str) -> None: ...

    def get(self, key: str) -> Optional[str]: ...

    def admin_ui(self, node: str) -> bool: ...


class CheckUnavailable(RuntimeError):
    """The context lacks what a check needs (no database probe, no SSH): a failed attempt."""


def _no_ssh(node: str) -> bool:
    raise CheckUnavailable("no ssh_reachable callable in the check context")


@dataclass
class CheckContext:
    power: PowerControl
    database: Optional[DatabaseProbe] = None
    ssh_reachable: Callable[[str], bool] = _no_ssh
    deploy_dir: Path = field(default_factory=Path.cwd)
    scratch: Dict[str, Any] = field(default_factory=dict)  # state kept between checks of one run

    def nodes(self) -> List[str]:
        return list(self.power.nodes())

    def require_database(self) -> DatabaseProbe:
        if self.database is None:
            raise CheckUnavailable("no database probe in the check context")
        return self.database

    def __getitem__(self, key: str) -> Any:
        """Dict-style access for checks written against the original ``context['...']``."""
        if key in ("power", "database", "ssh_reachable", "deploy_dir", "scratch"):
            return getattr(self, key)
        if key == "nodes":
            return self.nodes()
        raise KeyError(key)
