"""The run journal: ``reports/<run-id>/journal.jsonl``, one JSON event per line.

Flushed per event, so a killed run leaves everything up to its last event. It is the source of
truth for resume, teardown of a killed run, the summary, JUnit and traceability.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, List, Optional

from gauntlet.harness.redaction import redactor


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Journal:
    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")
        if self._handle.tell() and not _ends_with_newline(path):
            self._handle.write("\n")  # a killed writer left a torn line: start a fresh one

    def write(self, event: str, **fields) -> dict:
        record = {"ts": utc_now(), "run_id": self.run_id, "event": event, **fields}
        line = json.dumps(redactor.data(record), default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()
        return record

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, 2)
        return handle.read(1) == b"\n"


def read_events(path: Path, event: Optional[str] = None) -> List[dict]:
    return list(iter_events(path, event))


def iter_events(path: Path, event: Optional[str] = None) -> Iterator[dict]:
    """Events in order; a torn last line (a killed writer) is skipped."""
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event is None or record.get("event") == event:
                yield record
