"""The cycle loop: run switchover cycles until the cycles are done or a soak control stops it.

Per cycle: fresh state, the five phases in order (the first failure ends the phases), the fault
of ``--inject-failure`` at its phase, recovery and its verification after a failed or injected
cycle, an environment snapshot, and last the cycle record: the commit point that makes the cycle
count (see ``state.py``). Between cycles: the soak controls (``--run-hours``, ``--max-failures``,
``--stop-on-failure``) and the cooldown, a wait on the orchestrator's clock that
:meth:`Orchestrator.request_stop` interrupts.

A signal handler (the CLI's) raises :class:`Interrupted`: a BaseException, so no phase swallows
it; the run records it and stops, leaving the interrupted cycle to ``--resume``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from gauntlet.clock import Clock, RealClock
from gauntlet.soak.artifacts import CycleArtifacts
from gauntlet.soak.config import RunConfig
from gauntlet.soak.ids import cycle_id
from gauntlet.soak.injection import Injector
from gauntlet.soak.metrics import METRICS_FILE, MetricsWriter, iso
from gauntlet.soak.monitor import Monitor
from gauntlet.soak.phases import PHASES, CycleContext, Switchover, one_line, run_phase
from gauntlet.soak.progress import Progress
from gauntlet.soak.state import CycleOutcome, CycleState, RunProgress, read_progress

RUN_STATE_FILE = "state.json"
SOAK_LOG = "soak.log"


class Interrupted(BaseException):
    """SIGTERM/SIGINT: stop at once. A BaseException so that no phase handler catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    passed: int  # every cycle recorded in the run, resumed attempts included
    failed: int
    ran: int  # cycles this process ran
    stop_reason: Optional[str]
    next_cycle: int

    @property
    def line(self) -> str:
        return f"soak: {self.passed} passed, {self.failed} failed"


class Orchestrator:
    """Runs ``config.cycles`` cycles of ``backend`` into ``run_dir`` (resuming what is there)."""

    def __init__(self, config: RunConfig, backend: Switchover, run_dir: Path, run_id: str,
                 clock: Optional[Clock] = None, out=None, monitor: bool = True) -> None:
        self.config = config
        self.backend = backend
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.clock = clock or RealClock()
        self.out = out
        self.use_monitor = monitor
        self.stop_requested: Optional[str] = None
        self.current_cycle: Optional[int] = None
        self.metrics: Optional[MetricsWriter] = None
        self.monitor: Optional[Monitor] = None
        self.progress: Optional[Progress] = None
        self.injector = Injector(config.inject_failure, config.inject_at_phase, backend, config.seed,
                                 config.delay_seconds) if config.inject_failure else None

    # -- control --------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Stop after the current cycle; a cooldown in progress ends at once."""
        self.stop_requested = reason
        interrupt = getattr(self.clock, "interrupt", None)
        if interrupt:
            interrupt()

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> RunSummary:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        done = read_progress(self.run_dir / METRICS_FILE, self.run_id)
        first = done.next_cycle
        self.metrics = MetricsWriter(self.run_dir / METRICS_FILE, self.run_id)
        self.progress = Progress(self.config.cycles, self.run_dir / SOAK_LOG, self.out)
        self.progress.passed, self.progress.failed = done.passed, done.failed
        ran, reason = 0, None
        try:
            pair = self._pair()
            self.metrics.write("run", event="resumed" if first > 1 or done.interrupted else "started",
                               ts=self._now(), next_cycle=first, rerun=done.interrupted,
                               pair=list(pair), backend=self.backend.name)
            if first > 1 or done.interrupted:
                self.progress.line(f"resuming {self.run_id} at cycle {first}: {done.passed} passed, "
                                   f"{done.failed} failed so far"
                                   + (f"; cycle {done.interrupted[-1]} is run again" if done.interrupted else ""))
            if self.use_monitor:
                self.monitor = Monitor(self.backend.observe, self.metrics, self.config.monitor_interval,
                                       self.backend.name, self.clock.wall).start()
            deadline = self._deadline(done)
            for cycle in range(first, self.config.cycles + 1):
                reason = self._stop_reason(done, deadline)
                if reason:
                    break
                if deadline is not None:
                    self.progress.deadline_in = deadline - self.clock.now()
                began = self.clock.now()
                done.add(self.run_cycle(cycle, *done.next_roles(pair)))
                ran += 1
                if cycle < self.config.cycles and not self._stop_reason(done, deadline):
                    self._cooldown(deadline)
                self.progress.timed_cycle(self.clock.now() - began)
        except Interrupted as interruption:
            self.metrics.write("run", event="interrupted", ts=self._now(), signal=interruption.signum,
                               cycle=self.current_cycle, passed=done.passed, failed=done.failed)
            where = f"in cycle {self.current_cycle}" if self.current_cycle else \
                f"between cycles ({done.recorded} recorded)"
            self.progress.line(f"interrupted by signal {interruption.signum} {where}; "
                               f"resume with --resume {self.run_dir}")
            raise
        else:
            self.metrics.write("run", event="finished", ts=self._now(), passed=done.passed,
                               failed=done.failed, stop_reason=reason)
            if reason:
                self.progress.line(f"stopped: {reason}")
        finally:
            self._shutdown()
        return RunSummary(self.run_id, self.run_dir, done.passed, done.failed, ran, reason, done.next_cycle)

    def _shutdown(self) -> None:
        """Stop the monitor, undo a fault still in place, close the files: whatever ended the run."""
        if self.monitor is not None:
            self.monitor.stop()
        if self.injector is not None and self.injector.active is not None:
            self.injector.clear()
        self.metrics.close()
        self.progress.close()

    def _pair(self) -> Tuple[str, str]:
        """The first cycle's roles: kept in the run's state.json, so a resume keeps them."""
        path = self.run_dir / RUN_STATE_FILE
        try:
            saved = json.loads(path.read_text())
            if saved.get("run_id") == self.run_id and len(saved.get("pair") or []) == 2:
                return tuple(saved["pair"])
        except (FileNotFoundError, ValueError):
            pass
        pair = self.backend.pair(self.config.primary_context, self.config.secondary_context)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"run_id": self.run_id, "backend": self.backend.name,
                                   "pair": list(pair)}, indent=2) + "\n")
        os.replace(tmp, path)
        return pair

    # -- soak controls --------------------------------------------------------------------------

    def _deadline(self, done: RunProgress) -> Optional[float]:
        """``--run-hours`` as a point on the clock; cycles already run count against it."""
        if self.config.run_hours is None:
            return None
        return self.clock.now() + self.config.run_hours * 3600 - done.spent_seconds

    def _stop_reason(self, done: RunProgress, deadline: Optional[float]) -> Optional[str]:
        """Why no further cycle should start, or None."""
        config = self.config
        if self.stop_requested:
            return self.stop_requested
        if config.stop_on_failure and done.failed:
            return f"--stop-on-failure: cycle {done.last_failed} failed"
        if config.max_failures is not None and done.failed >= config.max_failures:
            return f"--max-failures {config.max_failures}: {done.failed} cycles failed"
        if deadline is not None and self.clock.now() >= deadline:
            return f"--run-hours {config.run_hours:g}: time is up after {done.recorded} cycles"
        return None

    def _cooldown(self, deadline: Optional[float]) -> None:
        seconds = self.config.cooldown_seconds
        if deadline is not None:
            seconds = min(seconds, max(deadline - self.clock.now(), 0.0))
        if seconds > 0:
            self.clock.sleep(seconds)

    # -- one cycle ------------------------------------------------------------------------------

    def run_cycle(self, cycle: int, primary: str, secondary: str) -> CycleOutcome:
        """Run cycle ``cycle`` from its first phase and record it; returns its outcome."""
        self.current_cycle = cycle
        cid = cycle_id(self.run_id, cycle)
        artifacts = CycleArtifacts(self.run_dir, self.run_id, cid, self.clock.wall)
        state = CycleState(artifacts.state_path, run_id=self.run_id, cycle=cycle, cycle_id=cid,
                           primary=primary, secondary=secondary)
        ctx = CycleContext(self.run_id, cycle, cid, primary, secondary, state, artifacts.log,
                           self.clock, self.config.phase_timeout)
        if self.monitor:
            self.monitor.enter_cycle(cycle, cid)
        scenario = self.injector.choose(cycle) if self.injector else None
        ctx.log(f"cycle {cycle}: primary {primary}, secondary {secondary}"
                + (f", injecting {scenario} at {self.config.inject_at_phase}" if scenario else ""))
        began = self.clock.now()
        phases, error = [], None
        for phase in PHASES:
            handler = self.backend.handler(phase)
            if scenario and phase == self.config.inject_at_phase:
                handler = self._with_fault(scenario, handler)
            result = run_phase(phase, handler, ctx)
            phases.append(self.metrics.write(
                "phase", cycle_id=cid, cycle=cycle, phase=phase, status=result.status,
                started=result.started, duration=result.duration, error=result.error))
            ctx.log(f"{phase}: {result.status} in {result.duration:.3f}s"
                    + (f": {result.error}" if result.error else ""))
            self.progress.phase(cycle, phase, result.status, result.duration, result.error)
            if not result.passed:
                error = f"{phase}: {result.error}"
                break
        recovery = None
        if scenario or error:
            recovery = self._recover(ctx, passed=error is None)
            if recovery["status"] != "verified" and error is None:
                error = f"recovery: {recovery['error']}"
        status = "passed" if error is None else "failed"
        snapshot = self._snapshot()
        if self.monitor:
            self.monitor.sample()
        duration = round(self.clock.now() - began, 4)
        fields = {"cycle_id": cid, "cycle": cycle, "status": status, "duration": duration,
                  "primary": primary, "secondary": secondary, "injected": scenario,
                  "injected_at": self.config.inject_at_phase if scenario else None,
                  "error": error, "recovery": recovery, "finished": self._now()}
        state.set(status=status, error=error, recovery=recovery)
        artifacts.write_json("environment.json", snapshot)
        artifacts.write_json("metrics.json", {"phases": phases, "cycle": {"record": "cycle",
                                                                          "run_id": self.run_id, **fields}})
        ctx.log(f"cycle {cycle}: {status}" + (f": {error}" if error else ""))
        artifacts.close()
        self.metrics.write("cycle", **fields)  # the commit point: from here on the cycle counts
        if self.monitor:
            self.monitor.leave_cycle()
        note = f"injected {scenario}; recovery {recovery['status']}" if scenario else \
            (f"{error}; recovery {recovery['status']}" if recovery else "")
        self.progress.cycle(cycle, status, primary, secondary, duration, note)
        self.current_cycle = None
        return CycleOutcome(cycle, status, primary, secondary, duration)

    def _with_fault(self, scenario: str, handler):
        def faulted(ctx: CycleContext):
            self.injector.inject(scenario, ctx)
            return handler(ctx)
        return faulted

    def _recover(self, ctx: CycleContext, passed: bool) -> dict:
        """Clear the injected fault, then the backend's recovery and its verification."""
        began = self.clock.now()
        undone = self.injector.clear() if self.injector else []
        try:
            result = {"status": "verified", **self.backend.recover(ctx, passed)}
        except Exception as error:  # noqa: BLE001 - an unverified recovery fails the cycle
            result = {"status": "failed", "error": one_line(error)}
            ctx.log(f"recovery failed: {result['error']}")
        return {**result, "undone": undone, "rollback": not passed,
                "duration": round(self.clock.now() - began, 4)}

    def _snapshot(self) -> dict:
        try:
            return {"ts": self._now(), **self.backend.snapshot()}
        except Exception as error:  # noqa: BLE001 - a snapshot is evidence, never a failure
            return {"ts": self._now(), "error": one_line(error)}

    def _now(self) -> str:
        return iso(self.clock.wall())
