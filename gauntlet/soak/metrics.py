"""``metrics.jsonl``: every phase, cycle, sample and alert of a run, one JSON object per line.

Each record is written in one call and flushed at once, so a run killed with SIGKILL loses at
most the line it was writing (a torn last line, which readers skip). The format is the
analyzer's input contract (``gauntlet/analysis/metrics.py``): every record has ``record`` (its
kind) and ``run_id``; cycle-scoped records also ``cycle`` and ``cycle_id``.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

METRICS_FILE = "metrics.jsonl"


def iso(epoch_seconds: float) -> str:
    """ISO-8601 UTC with milliseconds: ``2026-01-03T10:00:00.123Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MetricsWriter:
    """Appends records to ``path``; safe to share between the cycle loop and the monitor thread.

    ``fsync=True`` also forces each record to disk (survives a power cut, costs a disk flush);
    the default, a flush to the OS, already survives the process being killed.
    """

    def __init__(self, path: Path, run_id: str, fsync: bool = False) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.fsync = fsync
        self.records = 0
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a", encoding="utf-8")
        if self._handle.tell() and not _ends_with_newline(self.path):
            self._handle.write("\n")  # a killed writer left a torn line: start a fresh one
            self._handle.flush()

    def write(self, kind: str, **fields) -> dict:
        """Append one record (``{"record": kind, "run_id": ..., **fields}``) and flush it."""
        record = {"record": kind, "run_id": self.run_id, **fields}
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            if self.fsync:
                os.fsync(self._handle.fileno())
            self.records += 1
        return record

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()

    def __enter__(self) -> "MetricsWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_records(path: Path, kind: Optional[str] = None) -> list:
    """Every readable record of a metrics file, in order (torn or malformed lines skipped)."""
    records = []
    try:
        handle = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return records
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and (kind is None or record.get("record") == kind):
                records.append(record)
    return records
