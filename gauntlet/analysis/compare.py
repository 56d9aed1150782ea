"""Compare two soak runs: per-phase percentile deltas, regression flags, success-rate delta.

A phase regresses when its gate percentile (P90 unless told otherwise) in the new run is
slower than in the base run by MORE than threshold_pct percent. The other percentiles are
shown for context, never flagged: P50 says "typical", the gate says "the bad days", and one
gate keeps the verdict free of noise from several correlated numbers. A base of 0 s cannot
give a percentage; any slower new value is then a regression.

The success rate is flagged whenever it drops (any drop: a soak run's cycles are few, so one
more failed cycle already matters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gauntlet.analysis.metrics import SoakRun
from gauntlet.analysis.percentiles import PhaseStats, SuccessRate, success_rate, summarize_phases

GATES = ("p50", "p90", "p95")


@dataclass(frozen=True)
class Delta:
    """One statistic in both runs: new - base in seconds and in percent of base."""

    base: float
    new: float

    @property
    def abs(self) -> float:
        return self.new - self.base

    @property
    def pct(self) -> float | None:
        """Percent change from base; None when base is 0."""
        return 100.0 * (self.new - self.base) / self.base if self.base else None

    def to_dict(self) -> dict:
        return {"base": self.base, "new": self.new, "delta": self.abs, "delta_pct": self.pct}


@dataclass(frozen=True)
class PhaseComparison:
    """One phase in both runs. deltas is empty when either run has no passed samples of it."""

    phase: str
    base: PhaseStats | None
    new: PhaseStats | None
    deltas: dict[str, Delta] = field(default_factory=dict)  # "p50" | "p90" | "p95" -> Delta
    regression: bool = False
    note: str | None = None  # why a phase cannot be compared

    def to_dict(self) -> dict:
        return {"phase": self.phase, "regression": self.regression, "note": self.note,
                "base": self.base.to_dict() if self.base else None,
                "new": self.new.to_dict() if self.new else None,
                "deltas": {name: delta.to_dict() for name, delta in self.deltas.items()}}


@dataclass(frozen=True)
class Comparison:
    """The verdict of compare(): read has_regression, print regressions."""

    base_run_id: str
    new_run_id: str
    threshold_pct: float
    gate: str
    phases: list[PhaseComparison]
    base_success: SuccessRate
    new_success: SuccessRate

    @property
    def success_delta_pts(self) -> float | None:
        """New minus base success rate, in percentage points; None when either has no cycle."""
        if self.base_success.rate is None or self.new_success.rate is None:
            return None
        return self.new_success.rate - self.base_success.rate

    @property
    def success_dropped(self) -> bool:
        delta = self.success_delta_pts
        return delta is not None and delta < 0

    @property
    def regressions(self) -> list[str]:
        """One line per regression, for people."""
        lines = []
        for phase in self.phases:
            if phase.regression:
                delta = phase.deltas[self.gate]
                change = f"+{delta.pct:.1f}%" if delta.pct is not None else "from 0 s"
                lines.append(f"{phase.phase}: {self.gate.upper()} {delta.base:.2f}s -> {delta.new:.2f}s "
                             f"({change}, threshold {self.threshold_pct:g}%)")
        if self.success_dropped:
            lines.append(f"success rate: {self.base_success.rate:.1f}% -> {self.new_success.rate:.1f}% "
                         f"({self.success_delta_pts:+.1f} pts)")
        return lines

    @property
    def has_regression(self) -> bool:
        return bool(self.regressions)

    def to_dict(self) -> dict:
        return {"base_run_id": self.base_run_id, "new_run_id": self.new_run_id,
                "threshold_pct": self.threshold_pct, "gate": self.gate,
                "phases": [phase.to_dict() for phase in self.phases],
                "success_rate": {"base": self.base_success.to_dict(), "new": self.new_success.to_dict(),
                                 "delta_pts": self.success_delta_pts, "dropped": self.success_dropped},
                "regressions": self.regressions, "has_regression": self.has_regression}


def is_regression(delta: Delta, threshold_pct: float) -> bool:
    """Slower by more than threshold_pct percent (rounded to 1e-9 so 10.000000001% is not > 10%)."""
    if delta.pct is None:
        return delta.new > delta.base
    return round(delta.pct, 9) > threshold_pct


def compare(base_run: SoakRun, new_run: SoakRun, threshold_pct: float = 10.0, gate: str = "p90") -> Comparison:
    """Compare new_run against base_run (see module doc). Raises ValueError for a bad gate/threshold."""
    if gate not in GATES:
        raise ValueError(f"gate must be one of {', '.join(GATES)}, got {gate!r}")
    if threshold_pct < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold_pct}")
    base_stats, new_stats = summarize_phases(base_run), summarize_phases(new_run)
    names = list(base_stats) + [name for name in new_stats if name not in base_stats]
    phases = []
    for name in names:
        base, new = base_stats.get(name), new_stats.get(name)
        if not base or not base.count or not new or not new.count:
            missing = "base" if not base or not base.count else "new"
            phases.append(PhaseComparison(name, base, new, note=f"no passed {name} in the {missing} run"))
            continue
        deltas = {stat: Delta(getattr(base, stat), getattr(new, stat)) for stat in GATES}
        phases.append(PhaseComparison(name, base, new, deltas, is_regression(deltas[gate], threshold_pct)))
    return Comparison(base_run_id=base_run.run_id, new_run_id=new_run.run_id, threshold_pct=threshold_pct,
                      gate=gate, phases=phases, base_success=success_rate(base_run),
                      new_success=success_rate(new_run))
