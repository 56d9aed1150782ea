"""``--dry-run``: the orchestration without any cluster, for CI.

Every phase, record, artifact, soak control and resume path runs as in a real soak; the backend
only keeps a pretend leader in memory, so a phase still checks what its real counterpart checks
(the primary leads before activation, the secondary after it).
"""

from __future__ import annotations

from typing import Optional, Tuple

from gauntlet.soak.monitor import Observation
from gauntlet.soak.phases import CycleContext, PhaseFailed, Switchover


class DryRunSwitchover(Switchover):
    name = "dry-run"

    def __init__(self) -> None:
        self.leader: Optional[str] = None

    def pair(self, primary: Optional[str], secondary: Optional[str]) -> Tuple[str, str]:
        primary, secondary = primary or "primary-hub", secondary or "secondary-hub"
        self.leader = primary
        return primary, secondary

    def preflight(self, ctx: CycleContext) -> None:
        if ctx.primary == ctx.secondary:
            raise PhaseFailed("primary and secondary are the same")
        ctx.state.set(leader_before=self.leader)

    def primary_preparation(self, ctx: CycleContext) -> None:
        self.leader = ctx.primary  # a resumed dry run starts wherever: re-establish the primary
        ctx.state.set(marker=f"{ctx.cycle_id} via {ctx.primary}")

    def activation(self, ctx: CycleContext) -> None:
        if self.leader != ctx.primary:
            raise PhaseFailed(f"{self.leader} leads, not the primary {ctx.primary}")
        self.leader = ctx.secondary
        ctx.state.set(activated=True)

    def post_activation_verification(self, ctx: CycleContext) -> None:
        if self.leader != ctx.secondary:
            raise PhaseFailed(f"{self.leader} leads, not the secondary {ctx.secondary}")

    def finalization(self, ctx: CycleContext) -> None:
        ctx.state.set(next_primary=ctx.secondary, next_secondary=ctx.primary)

    def recover(self, ctx: CycleContext, passed: bool) -> dict:
        expected = ctx.secondary if passed else ctx.primary
        action = "none" if self.leader == expected else f"{self.leader} -> {expected}"
        self.leader = expected
        return {"action": action, "leader": expected, "checks": [f"{expected} leads"]}

    def observe(self) -> Observation:
        return Observation({"leader": self.leader, "healthy": 2, "total": 2})

    def snapshot(self) -> dict:
        return {"backend": self.name, "leader": self.leader}
