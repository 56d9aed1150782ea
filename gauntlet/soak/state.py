"""What a run has durably done (for ``--resume``), and the fresh state of one cycle.

Resume trusts one thing only: the cycle records in ``metrics.jsonl``. A cycle counts once its
cycle record is on disk (a complete line); a cycle that has phase records but no cycle record was
interrupted and is run again, from its first phase, under the same cycle number and id. So after
any number of kills, even SIGKILL mid-write, cycles are 1..N with exactly one cycle record each.

Roles follow outcomes: a passed cycle swaps primary and secondary for the next one (its
finalization made the secondary the primary); a failed cycle was rolled back, so the next cycle
tries the same direction again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple

from gauntlet.soak.metrics import read_records


class ResumeError(ValueError):
    """The run directory cannot be resumed (not a soak run, or its records are inconsistent)."""


@dataclass(frozen=True)
class CycleOutcome:
    """One finished cycle, as its cycle record says."""

    cycle: int
    status: str
    primary: Optional[str] = None
    secondary: Optional[str] = None
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class RunProgress:
    """Counts of the cycles recorded so far (1..recorded), kept in constant memory however long
    the run: a soak of 100 000 cycles needs no list of them."""

    recorded: int = 0
    passed: int = 0
    spent_seconds: float = 0.0  # time spent in recorded cycles (what --run-hours has used up)
    last: Optional[CycleOutcome] = None
    last_failed: Optional[int] = None
    interrupted: List[int] = field(default_factory=list)  # started, never recorded: run again

    @property
    def next_cycle(self) -> int:
        return self.recorded + 1

    @property
    def failed(self) -> int:
        return self.recorded - self.passed

    def add(self, outcome: CycleOutcome) -> None:
        """Count the next cycle; a cycle recorded twice or out of order is refused."""
        if outcome.cycle <= self.recorded:
            raise ResumeError(f"cycle {outcome.cycle} is already recorded: it would count twice")
        if outcome.cycle != self.next_cycle:
            raise ResumeError(f"cycle {outcome.cycle} recorded after cycle {self.recorded}: "
                              f"missing cycle {self.next_cycle}")
        self.recorded += 1
        self.passed += outcome.passed
        self.spent_seconds += outcome.duration
        self.last = outcome
        if not outcome.passed:
            self.last_failed = outcome.cycle

    def next_roles(self, pair: Tuple[str, str]) -> Tuple[str, str]:
        """(primary, secondary) of the next cycle; ``pair`` is the first cycle's."""
        last = self.last
        if last is None or not (last.primary and last.secondary):
            return pair[0], pair[1]
        if last.passed:
            return last.secondary, last.primary
        return last.primary, last.secondary


def read_progress(metrics_path: Path, run_id: Optional[str] = None) -> RunProgress:
    """The progress ``metrics_path`` records (empty when the file does not exist yet).

    Raises :class:`ResumeError` when it holds another run's cycles, a cycle recorded twice, or a
    gap (cycle 3 without cycle 2): then something other than this orchestrator wrote it.
    """
    progress = RunProgress()
    started: set = set()
    for record in read_records(metrics_path):
        kind = record.get("record")
        if kind not in ("phase", "cycle"):
            continue
        if run_id and record.get("run_id") not in (None, run_id):
            raise ResumeError(f"{metrics_path}: holds records of run {record.get('run_id')!r}, "
                              f"not {run_id!r}")
        cycle = record.get("cycle")
        if not isinstance(cycle, int) or isinstance(cycle, bool):
            continue
        if kind == "phase":
            started.add(cycle)
        else:
            progress.add(CycleOutcome(cycle, str(record.get("status")), record.get("primary"),
                                      record.get("secondary"), float(record.get("duration") or 0.0)))
    progress.interrupted = sorted(c for c in started if c > progress.recorded)
    return progress


class CycleState:
    """The state of one cycle: created empty for every cycle (nothing carries over), saved to
    the cycle's ``state.json`` at every change so a crash leaves what the cycle knew."""

    def __init__(self, path: Path, **initial) -> None:
        self.path = Path(path)
        self.values: dict = {}
        self.set(**initial)

    def set(self, **values) -> None:
        self.values.update(values)
        self.save()

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    def __getitem__(self, key: str):
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.values, indent=2, default=str) + "\n")
        os.replace(tmp, self.path)
