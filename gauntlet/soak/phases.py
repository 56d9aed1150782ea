"""The five phases of a switchover cycle, the backend interface, and the timing of one phase.

A backend (offline etcd, real ACM hubs, dry run) implements one method per phase. Each method
checks what it needs and raises (any exception) when the cluster is not as it must be; the
orchestrator times it, records the result and stops the cycle at the first failed phase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple

from gauntlet.clock import Clock
from gauntlet.soak.metrics import iso

PHASES = ("preflight", "primary_preparation", "activation", "post_activation_verification",
          "finalization")


class PhaseFailed(RuntimeError):
    """A phase found the cluster not as the switchover needs it; the message says what."""


@dataclass
class CycleContext:
    """What the phase methods of one cycle share: ids, roles, the cycle's fresh state, a log."""

    run_id: str
    cycle: int
    cycle_id: str
    primary: str
    secondary: str
    state: object  # gauntlet.soak.state.CycleState, new for every cycle
    log: Callable[[str], None]
    clock: Clock
    timeout: float  # how long a phase may wait for the cluster


@dataclass
class PhaseResult:
    phase: str
    status: str  # passed | failed
    started: str  # ISO-8601 UTC
    duration: float  # seconds
    error: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def one_line(error: BaseException, limit: int = 400) -> str:
    """``Type: message`` on one line, cut to ``limit`` characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def run_phase(phase: str, handler: Callable[[CycleContext], object], ctx: CycleContext) -> PhaseResult:
    """Run one phase, timed on the context's clock. Exceptions become a failed result; an
    interruption (BaseException: SIGTERM, Ctrl-C) propagates."""
    started = iso(ctx.clock.wall())
    began = ctx.clock.now()
    try:
        handler(ctx)
    except Exception as error:  # noqa: BLE001 - a failed phase is a result, not a crash
        return PhaseResult(phase, "failed", started, round(ctx.clock.now() - began, 4), one_line(error))
    return PhaseResult(phase, "passed", started, round(ctx.clock.now() - began, 4))


class Switchover:
    """Backend interface. ``name`` labels the backend in the manifest and logs."""

    name = "switchover"

    def pair(self, primary: Optional[str], secondary: Optional[str]) -> Tuple[str, str]:
        """(primary, secondary) of the first cycle: the ones asked for, or the backend's choice."""
        raise NotImplementedError

    def preflight(self, ctx: CycleContext) -> None:
        raise NotImplementedError

    def primary_preparation(self, ctx: CycleContext) -> None:
        raise NotImplementedError

    def activation(self, ctx: CycleContext) -> None:
        raise NotImplementedError

    def post_activation_verification(self, ctx: CycleContext) -> None:
        raise NotImplementedError

    def finalization(self, ctx: CycleContext) -> None:
        raise NotImplementedError

    def recover(self, ctx: CycleContext, passed: bool) -> dict:
        """After a failed or injected cycle: undo what is left (rollback when the cycle failed,
        keep the new roles when it passed) and verify it, data included. Returns
        ``{"action": ..., "checks": [...]}``; raises when recovery cannot be verified."""
        raise NotImplementedError

    def observe(self):
        """One monitoring observation (``gauntlet.soak.monitor.Observation``)."""
        raise NotImplementedError

    def snapshot(self) -> dict:
        """The environment as it is now (per-cycle ``environment.json``)."""
        raise NotImplementedError

    def handler(self, phase: str) -> Callable[[CycleContext], object]:
        return getattr(self, phase)

    def close(self) -> None:
        """Release clients (the orchestrator's caller stops the clusters)."""
