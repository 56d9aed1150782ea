"""Read a soak run directory: `manifest.json` and `metrics.jsonl` (written by `gauntlet.soak`).

`metrics.jsonl` holds one JSON object per line, each with a "record" kind:

- "phase":  one phase of one cycle (cycle, phase, status, started, duration, error);
- "cycle":  one whole cycle (cycle, status, duration, primary, secondary, injected, error);
- "sample" and "alert": monitoring; alerts are kept (the report counts them by severity),
  samples are only counted.

Two things a real run leaves behind are expected and handled:

- a torn last line, when the writer was killed mid-write: skipped (so is any other unreadable
  or malformed line; their line numbers are kept so the report can say so);
- a cycle recorded twice, when a run crashed mid-cycle and was resumed: the LAST record for a
  (cycle, phase), and for a cycle, wins: the re-run is the attempt that counts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

PHASES = ("preflight", "primary_preparation", "activation", "post_activation_verification", "finalization")
METRICS_FILE = "metrics.jsonl"
MANIFEST_FILE = "manifest.json"


class RunDirError(ValueError):
    """A run directory that cannot be analysed (missing, not a directory, nothing in it)."""


@dataclass(frozen=True)
class PhaseRecord:
    """One phase of one cycle."""

    cycle: int
    phase: str
    status: str
    duration: float
    started: str | None = None
    error: str | None = None
    cycle_id: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class CycleRecord:
    """One whole switchover cycle."""

    cycle: int
    status: str
    duration: float | None = None
    primary: str | None = None
    secondary: str | None = None
    injected: str | None = None
    error: str | None = None
    cycle_id: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class SoakRun:
    """What one soak run recorded, duplicates resolved (see module doc)."""

    path: Path | None
    manifest: dict
    phases: list[PhaseRecord] = field(default_factory=list)  # ordered by cycle, then PHASES
    cycles: list[CycleRecord] = field(default_factory=list)  # ordered by cycle
    alerts: list[dict] = field(default_factory=list)
    samples: int = 0
    skipped_lines: list[int] = field(default_factory=list)  # 1-based numbers of unreadable lines
    torn_tail: bool = False  # the last line was cut short (writer killed)
    resumed_cycles: list[int] = field(default_factory=list)  # cycles recorded more than once
    warnings: list[str] = field(default_factory=list)
    record_run_id: str | None = None  # the run_id the records carry

    @property
    def run_id(self) -> str:
        """The manifest's run_id, else the records', else the directory name."""
        found = self.manifest.get("run_id") or self.record_run_id
        if found:
            return str(found)
        return self.path.name if self.path else "unknown"

    def phase_names(self) -> list[str]:
        """Phases seen, in lifecycle order; unknown phase names follow in first-seen order."""
        seen = {record.phase for record in self.phases}
        extra = [name for name in dict.fromkeys(r.phase for r in self.phases) if name not in PHASES]
        return [name for name in PHASES if name in seen] + extra

    def incomplete_cycles(self) -> list[int]:
        """Cycles with phase records but no cycle record: the run stopped inside them."""
        finished = {record.cycle for record in self.cycles}
        return sorted({record.cycle for record in self.phases} - finished)

    def durations(self, phase: str, include_failed: bool = False) -> list[float]:
        """Durations of one phase over the cycles (passed attempts only unless include_failed)."""
        return [r.duration for r in self.phases if r.phase == phase and (include_failed or r.passed)]


# -- Parsing ------------------------------------------------------------------------------------


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(value) -> float | None:
    """A finite number of seconds, else None (bools, strings, NaN and infinities are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value) -> str | None:
    return None if value is None else str(value)


def _phase(record: dict) -> PhaseRecord | None:
    cycle, duration = _int(record.get("cycle")), _seconds(record.get("duration"))
    phase, status = record.get("phase"), record.get("status")
    if cycle is None or duration is None or not isinstance(phase, str) or not isinstance(status, str):
        return None
    return PhaseRecord(cycle=cycle, phase=phase, status=status, duration=duration,
                       started=_text(record.get("started")), error=_text(record.get("error")),
                       cycle_id=_text(record.get("cycle_id")))


def _cycle(record: dict) -> CycleRecord | None:
    cycle, status = _int(record.get("cycle")), record.get("status")
    if cycle is None or not isinstance(status, str):
        return None
    return CycleRecord(cycle=cycle, status=status, duration=_seconds(record.get("duration")),
                       primary=_text(record.get("primary")), secondary=_text(record.get("secondary")),
                       injected=_text(record.get("injected")), error=_text(record.get("error")),
                       cycle_id=_text(record.get("cycle_id")))


def parse_lines(lines: Iterable[str]) -> tuple[list[dict], list[int], bool]:
    """(records, unreadable line numbers, torn tail) from raw JSONL lines.

    The tail is torn when the last non-empty line is unreadable and has no newline: the shape a
    killed writer leaves.
    """
    records: list[dict] = []
    skipped: list[int] = []
    last_number, last_raw = 0, ""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last_number, last_raw = number, raw
        try:
            record = json.loads(raw)
        except ValueError:
            skipped.append(number)
            continue
        if isinstance(record, dict) and isinstance(record.get("record"), str):
            records.append(record)
        else:
            skipped.append(number)
    torn = bool(skipped) and skipped[-1] == last_number and not last_raw.endswith("\n")
    return records, skipped, torn


def run_from_records(records: Iterable[dict], manifest: dict | None = None,
                     path: Path | None = None) -> SoakRun:
    """Build a SoakRun from parsed records (also usable on records held in memory)."""
    run = SoakRun(path=path, manifest=dict(manifest or {}))
    phases: dict[tuple[int, str], PhaseRecord] = {}
    cycles: dict[int, CycleRecord] = {}
    resumed: set[int] = set()
    for record in records:
        kind = record.get("record")
        if kind in ("phase", "cycle") and run.record_run_id is None and record.get("run_id"):
            run.record_run_id = str(record["run_id"])
        if kind == "phase":
            parsed = _phase(record)
            if parsed is None:
                run.warnings.append(f"malformed phase record skipped: {json.dumps(record)[:120]}")
                continue
            key = (parsed.cycle, parsed.phase)
            if key in phases:
                resumed.add(parsed.cycle)
            phases[key] = parsed  # the last record wins (a resumed run re-ran the cycle)
        elif kind == "cycle":
            parsed_cycle = _cycle(record)
            if parsed_cycle is None:
                run.warnings.append(f"malformed cycle record skipped: {json.dumps(record)[:120]}")
                continue
            if parsed_cycle.cycle in cycles:
                resumed.add(parsed_cycle.cycle)
            cycles[parsed_cycle.cycle] = parsed_cycle
        elif kind == "alert":
            run.alerts.append(record)
        elif kind == "sample":
            run.samples += 1
    order = {name: index for index, name in enumerate(PHASES)}
    run.phases = sorted(phases.values(), key=lambda r: (r.cycle, order.get(r.phase, len(PHASES))))
    run.cycles = [cycles[number] for number in sorted(cycles)]
    run.resumed_cycles = sorted(resumed)
    return run


def load_run(run_dir: str | Path) -> SoakRun:
    """Read RUN_DIR into a SoakRun.

    Raises RunDirError when RUN_DIR is not a directory, has no metrics.jsonl, or holds no phase
    or cycle record. A missing or unreadable manifest.json is only a warning: the metrics are
    what the analysis needs.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory" if path.exists() else f"{path}: no such directory")
    metrics = path / METRICS_FILE
    if not metrics.is_file():
        raise RunDirError(f"{path}: no {METRICS_FILE} (is this a soak run directory?)")
    manifest, warnings = _read_manifest(path / MANIFEST_FILE)
    with open(metrics, encoding="utf-8", errors="replace") as handle:
        records, skipped, torn = parse_lines(handle)
    run = run_from_records(records, manifest, path)
    run.skipped_lines, run.torn_tail = skipped, torn
    run.warnings[:0] = warnings
    if not run.phases and not run.cycles:
        raise RunDirError(f"{metrics}: no phase or cycle records")
    return run


def _read_manifest(path: Path) -> tuple[dict, list[str]]:
    """(manifest, warnings): an absent or unreadable manifest is an empty one plus a warning."""
    if not path.is_file():
        return {}, [f"no {MANIFEST_FILE}"]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as error:
        return {}, [f"{MANIFEST_FILE} unreadable: {error}"]
    if not isinstance(manifest, dict):
        return {}, [f"{MANIFEST_FILE} is not a JSON object"]
    return manifest, []
