"""Resource ledger: everything a run creates, recorded in the journal before it is relied on.

Entries are journal events (``resource`` / ``resource_released``), so a run killed with SIGKILL
still leaves a complete list for ``--teardown-only`` to walk in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

from gauntlet.harness.journal import Journal, iter_events


@dataclass
class Resource:
    kind: str  # "process", "directory", "ec2:instance", "s3:bucket", ...
    ident: str
    attrs: Dict[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.ident}"


class Ledger:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def record(self, kind: str, ident: str, **attrs) -> Resource:
        resource = Resource(kind, str(ident), attrs)
        self.journal.write("resource", kind=kind, id=str(ident), attrs=attrs)
        return resource

    def release(self, kind: str, ident: str) -> None:
        self.journal.write("resource_released", kind=kind, id=str(ident))


def outstanding(journal_path: Path) -> List[Resource]:
    """Resources recorded and not yet released, in creation order."""
    live: Dict[str, Resource] = {}
    for event in iter_events(journal_path):
        kind, ident = event.get("kind"), event.get("id")
        if event["event"] == "resource":
            resource = Resource(kind, ident, event.get("attrs") or {})
            live.pop(resource.key, None)
            live[resource.key] = resource
        elif event["event"] == "resource_released":
            live.pop(f"{kind}/{ident}", None)
    return list(live.values())
