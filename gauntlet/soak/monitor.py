"""Monitoring during a soak: poll the backend, write samples and alerts to ``metrics.jsonl``.

A background thread asks the backend for an :class:`Observation` every ``interval`` seconds
(offline: member health, leader, database size and RSS of each etcd member; real: ManagedClusters,
Restore, BackupSchedule, observability) and the orchestrator takes one more at the end of every
cycle, so even a fast cycle has its sample. Each observation becomes a ``sample`` record, tagged
with the cycle it fell in. A problem the backend reports becomes an ``alert`` record when it
appears, once per episode: the time series shows how long it lasted, the alerts are not a flood.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from gauntlet.clock import RealClock
from gauntlet.soak.metrics import MetricsWriter, iso
from gauntlet.soak.phases import one_line

SEVERITIES = ("info", "warning", "critical")
ORCHESTRATOR_RSS_LIMIT_KB = 1024 * 1024  # 1 GiB: a soak orchestrator should stay far below


@dataclass(frozen=True)
class Problem:
    """Something wrong in one observation. ``rule`` identifies it across observations."""

    rule: str
    severity: str  # info | warning | critical
    message: str


@dataclass
class Observation:
    values: dict
    problems: List[Problem] = field(default_factory=list)


def rss_kb(pid: Optional[int] = None) -> Optional[int]:
    """Resident set size of a process (default: this one) in kB, from /proc; None if gone."""
    try:
        with open(f"/proc/{pid or os.getpid()}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Monitor:
    """Polls ``observe()`` in a thread; :meth:`sample` takes one observation now."""

    def __init__(self, observe: Callable[[], Observation], metrics: MetricsWriter,
                 interval: float = 1.0, source: str = "switchover",
                 wall: Callable[[], float] = None) -> None:
        self.observe = observe
        self.metrics = metrics
        self.interval = interval
        self.source = source
        self.wall = wall or RealClock().wall
        self.samples = 0
        self.alerts: List[dict] = []
        self._cycle: Optional[int] = None
        self._cycle_id: Optional[str] = None
        self._open: Dict[str, Problem] = {}  # problems of the last observation, by rule
        self._lock = threading.Lock()
        self._clock = RealClock()  # its own: interrupting it stops only this monitor's wait
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # -- cycle tagging --------------------------------------------------------------------------

    def enter_cycle(self, cycle: int, cycle_id: str) -> None:
        self._cycle, self._cycle_id = cycle, cycle_id

    def leave_cycle(self) -> None:
        self._cycle, self._cycle_id = None, None

    # -- sampling -------------------------------------------------------------------------------

    def sample(self) -> dict:
        """Observe now; write the sample and any new alert. Never raises for a failed
        observation: that is itself an alert."""
        with self._lock:
            cycle, cycle_id = self._cycle, self._cycle_id
            try:
                observation = self.observe()
            except Exception as error:  # noqa: BLE001 - a blind spot is an alert, not a crash
                observation = Observation({}, [Problem("observe-failed", "warning",
                                                       f"observation failed: {one_line(error)}")])
            own = rss_kb()
            problems = list(observation.problems)
            if own and own > ORCHESTRATOR_RSS_LIMIT_KB:
                problems.append(Problem("orchestrator-rss", "warning",
                                        f"orchestrator RSS {own} kB above {ORCHESTRATOR_RSS_LIMIT_KB} kB"))
            ts = iso(self.wall())
            record = self.metrics.write("sample", cycle=cycle, cycle_id=cycle_id, ts=ts,
                                        source=self.source, orchestrator_rss_kb=own,
                                        **observation.values)
            self.samples += 1
            current = {problem.rule: problem for problem in problems}
            for rule, problem in current.items():
                if rule not in self._open:
                    self.alerts.append(self.metrics.write(
                        "alert", cycle=cycle, cycle_id=cycle_id, ts=ts, source=self.source,
                        severity=problem.severity, rule=rule, message=problem.message))
            self._open = current
            return record

    # -- the thread -----------------------------------------------------------------------------

    def start(self) -> "Monitor":
        self._thread = threading.Thread(target=self._loop, name="soak-monitor", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.sample()
            self._clock.sleep(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling (interrupts the wait between samples) and wait for the thread."""
        self._stopped.set()
        self._clock.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
