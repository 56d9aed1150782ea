"""Console progress of a soak: one line per phase and per cycle, with counts and an ETA.

::

    [soak] cycle  3/20 preflight                      passed   0.012s  (2 passed, 0 failed, ETA 0:00:07)
    [soak] cycle  3/20 PASSED n12 -> n13 in 0.41s                     (3 passed, 0 failed, ETA 0:00:06)

The ETA is the mean time of the cycles this process ran (cooldown included) times the cycles
left, capped by the ``--run-hours`` deadline. Every line also goes to the run's ``soak.log``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, TextIO


def eta_text(seconds: Optional[float]) -> str:
    if seconds is None:
        return "ETA ?"
    seconds = max(0, int(round(seconds)))
    return f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, log_path: Optional[Path] = None, out: TextIO = None) -> None:
        self.total = total
        self.out = out or sys.stdout
        self.passed = 0
        self.failed = 0
        self.timed = 0  # cycles run by this process ...
        self.timed_seconds = 0.0  # ... and their total time, cooldown included
        self.deadline_in: Optional[float] = None  # seconds left of --run-hours, when set
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None

    def eta(self, cycle: int) -> Optional[float]:
        """Seconds left: the mean cycle time times the cycles after ``cycle``."""
        left = self.total - cycle
        if left <= 0:
            return 0.0
        if not self.timed:
            return self.deadline_in
        estimate = self.timed_seconds / self.timed * left
        return min(estimate, self.deadline_in) if self.deadline_in is not None else estimate

    def _counts(self, cycle: int) -> str:
        return f"({self.passed} passed, {self.failed} failed, {eta_text(self.eta(cycle))})"

    def timed_cycle(self, seconds: float) -> None:
        """A cycle (and the cooldown after it) took ``seconds``: feeds the ETA."""
        self.timed += 1
        self.timed_seconds += seconds

    def line(self, text: str) -> None:
        print(f"[soak] {text}", file=self.out, flush=True)
        if self._log:
            self._log.write(text + "\n")
            self._log.flush()

    def phase(self, cycle: int, phase: str, status: str, duration: float, error: Optional[str]) -> None:
        width = len(str(self.total))
        reason = f"  {error}" if error else ""
        self.line(f"cycle {cycle:>{width}}/{self.total} {phase:<29} {status:<6} {duration:8.3f}s  "
                  f"{self._counts(cycle - 1)}{reason}")

    def cycle(self, cycle: int, status: str, primary: str, secondary: str, duration: float,
              note: str = "") -> None:
        if status == "passed":
            self.passed += 1
        else:
            self.failed += 1
        width = len(str(self.total))
        self.line(f"cycle {cycle:>{width}}/{self.total} {status.upper()} {primary} -> {secondary} in "
                  f"{duration:.2f}s  {self._counts(cycle)}{'  ' + note if note else ''}")

    def close(self) -> None:
        if self._log and not self._log.closed:
            self._log.close()
