"""Percentiles and per-phase summaries, in pure Python (numpy is not required).

`percentile` uses linear interpolation between the closest ranks, the same definition as
numpy.percentile's default ('linear', Hyndman & Fan type 7): on the sorted values x[0..n-1],
the P-th percentile sits at index h = (n - 1) * P / 100, between x[floor(h)] and x[floor(h)+1].

Phase statistics are computed over PASSED phases only: a failed phase stops early or hits a
timeout, and either would distort the latency of the phase; failures are counted apart (and
the cycle success rate shows them).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable

from gauntlet.analysis.metrics import SoakRun

PERCENTILES = (50, 90, 95)


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (0 <= p <= 100) of values, linearly interpolated like numpy's default.

    Raises ValueError for no values or p outside [0, 100].
    """
    ordered = sorted(float(value) for value in values)
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within [0, 100], got {p}")
    position = (len(ordered) - 1) * (p / 100)
    below = math.floor(position)
    fraction = position - below
    low = ordered[below]
    if fraction == 0 or below + 1 == len(ordered):
        return low
    high = ordered[below + 1]
    # Clamped: float rounding must never put the result outside its two neighbours, which keeps
    # the result monotone in p and within [min, max].
    return min(max(low + (high - low) * fraction, low), high)


@dataclass(frozen=True)
class PhaseStats:
    """Duration statistics (seconds) of one phase; the statistics are None when count is 0."""

    phase: str
    count: int  # passed phases, the ones the statistics describe
    failed: int
    min: float | None = None
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    max: float | None = None
    mean: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def phase_stats(phase: str, durations: list[float], failed: int = 0) -> PhaseStats:
    """Count, min, P50, P90, P95, max and mean of one phase's durations."""
    if not durations:
        return PhaseStats(phase=phase, count=0, failed=failed)
    return PhaseStats(phase=phase, count=len(durations), failed=failed,
                      min=min(durations), p50=percentile(durations, 50), p90=percentile(durations, 90),
                      p95=percentile(durations, 95), max=max(durations),
                      mean=math.fsum(durations) / len(durations))


def summarize_phases(run: SoakRun, include_failed: bool = False) -> dict[str, PhaseStats]:
    """Phase name -> its statistics, in lifecycle order (see module doc for include_failed)."""
    summary = {}
    for phase in run.phase_names():
        failed = sum(1 for r in run.phases if r.phase == phase and not r.passed)
        summary[phase] = phase_stats(phase, run.durations(phase, include_failed), failed)
    return summary


@dataclass(frozen=True)
class SuccessRate:
    """Passed cycles over recorded cycles (the requirement: >= 95% over 20+ cycles)."""

    passed: int
    total: int

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def rate(self) -> float | None:
        """Percent of cycles that passed; None when no cycle finished."""
        return 100.0 * self.passed / self.total if self.total else None

    def to_dict(self) -> dict:
        return {"passed": self.passed, "failed": self.failed, "total": self.total, "rate_pct": self.rate}


def success_rate(run: SoakRun) -> SuccessRate:
    """The run's cycle success rate; a cycle the run stopped inside has no record and no vote."""
    return SuccessRate(passed=sum(1 for c in run.cycles if c.passed), total=len(run.cycles))
