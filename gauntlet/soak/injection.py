"""``--inject-failure``: one fault per cycle, at the start of the ``--inject-at-phase`` phase.

The phase then runs under the fault; whatever happens, the fault is cleared after the cycle's
phases and the backend's recovery verifies the cluster (rollback when the cycle failed). What
each scenario does:

=======================  ========================================================================
offline (local cluster)
pause-member             SIGSTOP the secondary's node (etcd and sshd): the switchover target hangs
delay-activation         SIGSTOP the secondary, SIGCONT it ``delay`` seconds later: activation waits
kill-member              SIGKILL the primary's node (the leader): the cluster must fail over
Kubernetes hub (kubernetes adapter, ``@needs.k8s``)
pause-backup             set ``spec.paused`` on the primary hub's BackupSchedule
delay-restore            scale the secondary's Velero deployment to 0, back up ``delay`` s later
kill-observability-pod   delete the secondary's observability-observatorium-api pod
random                   one of the above for the backend, chosen per cycle from ``--seed``
=======================  ========================================================================

``random`` chooses from the seed and the cycle number alone, so a resumed run injects the same
fault into a re-run cycle.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from gauntlet.clock import RealClock
from gauntlet.soak.config import HUB_INJECTIONS, OFFLINE_INJECTIONS
from gauntlet.soak.phases import CycleContext


@dataclass
class Fault:
    """An injected fault: what was done, to whom, and how to undo it."""

    scenario: str
    victim: str
    description: str
    undo: List[Callable[[], Optional[str]]] = field(default_factory=list)


class Delayed:
    """Run ``action`` after ``seconds`` in a thread, unless cancelled first (its wait is a
    private clock's, so cancelling interrupts it at once)."""

    def __init__(self, seconds: float, action: Callable[[], object]) -> None:
        self._clock = RealClock()
        self._cancelled = threading.Event()
        self._action = action
        self._thread = threading.Thread(target=self._run, args=(seconds,), name="soak-delayed",
                                        daemon=True)
        self._thread.start()

    def _run(self, seconds: float) -> None:
        self._clock.sleep(seconds)
        if not self._cancelled.is_set():
            self._action()

    def cancel(self) -> None:
        self._cancelled.set()
        self._clock.interrupt()
        self._thread.join(30)


# -- offline scenarios: the local cluster's power control ----------------------------------------

def _resume_if_paused(power, node: str) -> Callable[[], Optional[str]]:
    def undo() -> Optional[str]:
        if power.node_state(node) == "paused":
            power.resume_node(node)
            return f"resumed {node}"
        return None
    return undo


def pause_member(backend, ctx: CycleContext, delay: float) -> Fault:
    backend.power.pause_node(ctx.secondary)
    return Fault("pause-member", ctx.secondary, f"SIGSTOP {ctx.secondary} (the secondary)",
                 [_resume_if_paused(backend.power, ctx.secondary)])


def delay_activation(backend, ctx: CycleContext, delay: float) -> Fault:
    backend.power.pause_node(ctx.secondary)
    timer = Delayed(delay, lambda: backend.power.resume_node(ctx.secondary))
    return Fault("delay-activation", ctx.secondary,
                 f"SIGSTOP {ctx.secondary} (the secondary) for {delay:g} s",
                 [lambda: timer.cancel(), _resume_if_paused(backend.power, ctx.secondary)])


def kill_member(backend, ctx: CycleContext, delay: float) -> Fault:
    power = backend.power
    power.crash_node(ctx.primary, "destroy")

    def undo() -> Optional[str]:
        if power.node_state(ctx.primary) == "stopped":
            power.start_node(ctx.primary)
            return f"started {ctx.primary}"
        return None
    return Fault("kill-member", ctx.primary, f"SIGKILL {ctx.primary} (the primary, leading)", [undo])


# -- hub scenarios: the kubernetes client, through the hub backend --------------------------------

def pause_backup(backend, ctx: CycleContext, delay: float) -> Fault:
    name = backend.set_backup_paused(ctx.primary, True)
    return Fault("pause-backup", ctx.primary, f"paused BackupSchedule {name} on {ctx.primary}",
                 [lambda: backend.set_backup_paused(ctx.primary, False) and f"unpaused {name}"])


def delay_restore(backend, ctx: CycleContext, delay: float) -> Fault:
    replicas = backend.scale_velero(ctx.secondary, 0)
    timer = Delayed(delay, lambda: backend.scale_velero(ctx.secondary, replicas))

    def undo() -> Optional[str]:
        backend.scale_velero(ctx.secondary, replicas)
        return f"velero on {ctx.secondary} back to {replicas} replicas"
    return Fault("delay-restore", ctx.secondary,
                 f"scaled velero on {ctx.secondary} to 0 for {delay:g} s", [lambda: timer.cancel(), undo])


def kill_observability_pod(backend, ctx: CycleContext, delay: float) -> Fault:
    pod = backend.delete_observability_pod(ctx.secondary)
    return Fault("kill-observability-pod", ctx.secondary, f"deleted pod {pod} on {ctx.secondary}",
                 [lambda: backend.wait_observability_pod(ctx.secondary, ctx.timeout)])


SCENARIOS = {
    "pause-member": pause_member,
    "delay-activation": delay_activation,
    "kill-member": kill_member,
    "pause-backup": pause_backup,
    "delay-restore": delay_restore,
    "kill-observability-pod": kill_observability_pod,
}


class Injector:
    """Injects ``scenario`` (or a random one) into each cycle, at ``phase``."""

    def __init__(self, scenario: str, phase: str, backend, seed: int = 0, delay: float = 2.0) -> None:
        self.scenario = scenario
        self.phase = phase
        self.backend = backend
        self.seed = seed
        self.delay = delay
        self.active: Optional[Fault] = None

    def choose(self, cycle: int) -> str:
        """The scenario for ``cycle`` (``random`` resolved from the seed and the cycle)."""
        if self.scenario != "random":
            return self.scenario
        choices = OFFLINE_INJECTIONS if getattr(self.backend, "name", "") == "etcd" else HUB_INJECTIONS
        return random.Random(f"{self.seed}:{cycle}").choice(choices)

    def inject(self, scenario: str, ctx: CycleContext) -> Fault:
        self.active = SCENARIOS[scenario](self.backend, ctx, self.delay)
        ctx.state.set(injected={"scenario": scenario, "phase": self.phase, "victim": self.active.victim,
                                "description": self.active.description})
        ctx.log(f"injected {scenario} at {self.phase}: {self.active.description}")
        return self.active

    def clear(self) -> List[str]:
        """Undo the active fault (each undo step runs even if an earlier one failed)."""
        fault, self.active = self.active, None
        done, errors = [], []
        for undo in fault.undo if fault else []:
            try:
                result = undo()
            except Exception as error:  # noqa: BLE001 - keep undoing; recovery verifies the rest
                errors.append(f"{type(error).__name__}: {error}")
                continue
            if isinstance(result, str):
                done.append(result)
        return done + [f"undo failed: {error}" for error in errors]
