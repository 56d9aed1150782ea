"""Behave hooks: the run's lifecycle inside one behave process.

``environment.py`` calls these. Two modes:

- standalone (plain ``behave``): this process creates the run, starts the target, and at the end
  applies the teardown policy;
- managed (started by ``bin/end-to-end-test``): the runner created the run and owns the target
  and teardown; this process attaches to the run and records its steps.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from pathlib import Path
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from gauntlet.clock import real_clock
from gauntlet.harness import console, diagnostics, reports
from gauntlet.harness.collectors import COLLECTORS
from gauntlet.harness.options import Options
from gauntlet.harness.plan import (
    PlanStep,
    flag_skip_reason,
    load_plan,
    selected_in_tag_expression,
    window_skip_reason,
    written_tags,
)
from gauntlet.harness.redaction import redactor
from gauntlet.harness.run import Run
from gauntlet.harness.teardown import teardown
from gauntlet.targets import Target, load_target
from gauntlet.targets import activation

# Domains whose features form one plan over one environment (the lab is provisioned once and
# validated step by step). Every other feature starts from a reset offline endpoint.
SHARED_ENVIRONMENT_DOMAINS = {"lab"}
DIAGNOSTICS_TIMEOUT = 4.0


@dataclass
class CommandRecord:
    argv: List[str]
    exit_code: int
    output_tail: str


class Session:
    """Everything the hooks share for one behave process; ``context.gauntlet``."""

    def __init__(self, options: Options, run: Run, target: Target, owner: bool, plan) -> None:
        self.options = options
        self.run = run
        self.target = target
        self.owner = owner
        self.plan = plan
        self.by_location: Dict[Tuple[str, int], PlanStep] = {
            _location_key(step.location): step for step in plan}
        self.current: Optional[PlanStep] = None
        self.started_at = 0.0
        self.failed_step: Optional[int] = None
        self.domain: Optional[str] = None
        self.allure = None
        self.interrupted_by: Optional[int] = None
        self.last_command = None  # steps that run a command put its CommandResult here
        self.outside_window = False
        self.cache: Dict[str, object] = {}  # adapters shared by the steps of this process

    def record_command(self, argv, exit_code: int, output_tail: str) -> None:
        """Remember the command a step ran, so a failure bundle shows its exit code and output."""
        self.last_command = CommandRecord(list(argv), exit_code, output_tail)

    def step_for(self, scenario) -> PlanStep:
        key = _location_key(f"{scenario.location.filename}:{scenario.location.line}")
        step = self.by_location.get(key)
        if step is None:  # a feature outside the plan paths: number it after the plan
            step = PlanStep(len(self.plan) + 1, scenario.name, str(scenario.location),
                            scenario.feature.name, written_tags(scenario.feature, scenario))
            self.plan.append(step)
            self.by_location[key] = step
        return step


def _location_key(location: str) -> Tuple[str, int]:
    path, _, line = location.rpartition(":")
    return str(Path(path).resolve()), int(line)


def before_all(context) -> None:
    options = Options.read(context.config.userdata)
    options.enabled |= selected_in_tag_expression(context.config.tag_expression)
    target = load_target(options.target)
    if options.run_id:
        run = Run.open(options.run_id)
        activation.attach(target, run)
        owner = not options.managed
    else:
        run = Run.create()
        owner = True
        activation.activate(target, run)
    paths = [Path(p) for p in (context.config.paths or ["features"])]
    session = Session(options, run, target, owner, load_plan(paths))
    context.gauntlet = session
    _start_allure(session)
    run.journal.write("behave_started", pid=os.getpid(), target=target.name, owner=owner,
                      plan=len(session.plan), options=vars(options) | {"enabled": sorted(options.enabled)})
    console.header(session)
    if owner:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda s, _f: _interrupt(session, s))
    else:  # the runner forwards Ctrl-C as SIGTERM; stop like Ctrl-C so after_all still runs
        signal.signal(signal.SIGTERM, lambda s, _f: _interrupt(session, s))
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupt(session: Session, signum: int) -> None:
    session.interrupted_by = signum
    raise KeyboardInterrupt(f"signal {signum}")


def _start_allure(session: Session) -> None:
    from allure_behave.hooks import AllureHooks

    session.allure = AllureHooks(str(session.run.path("allure-results", ".keep").parent))


def before_feature(context, feature) -> None:
    session: Session = context.gauntlet
    domain = next((str(t) for t in feature.tags if str(t) in
                   ("lab", "failsafety", "nomad", "switchover", "drs")), None)
    continues_plan = domain in SHARED_ENVIRONMENT_DOMAINS and domain == session.domain
    if session.target.offline and not continues_plan:
        activation.reset_offline_state()
    session.domain = domain
    session.allure.before_feature(context, feature)


def after_feature(context, feature) -> None:
    context.gauntlet.allure.after_feature(context, feature)


def before_scenario(context, scenario) -> None:
    session: Session = context.gauntlet
    step = session.step_for(scenario)
    session.current = step
    session.last_command = None
    session.allure.before_scenario(context, scenario)
    session.outside_window = bool(window_skip_reason(step, session.options.start_step,
                                                     session.options.end_step))
    reason = skip_reason(session, step)
    if reason:
        import allure

        allure.attach(reason, name="skip reason", attachment_type=allure.attachment_type.TEXT)
        scenario.skip(reason)
    elif step.number in session.options.breaks:
        console.breakpoint(session, step)
    session.started_at = real_clock.now()
    if not session.outside_window:
        session.run.journal.write("step_started", step=step.number, name=step.name,
                                  location=step.location)


def skip_reason(session: Session, step: PlanStep) -> Optional[str]:
    options = session.options
    reason = window_skip_reason(step, options.start_step, options.end_step) \
        or flag_skip_reason(step, options.enabled)
    if reason:
        return reason
    for need in step.needs:
        if not session.target.can(need):
            return session.target.missing_hint(need)
    if options.stop_on_failure and session.failed_step is not None:
        return f"--stop-on-failure: step {session.failed_step} failed"
    return None


def after_scenario(context, scenario) -> None:
    session: Session = context.gauntlet
    step = session.current
    duration = round(real_clock.now() - session.started_at, 4)
    status = scenario.status.name
    reason = scenario.skip_reason if status == "skipped" else None
    if status in ("failed", "error", "hook_error"):
        status = "failed" if status == "failed" else "error"
        session.failed_step = session.failed_step or step.number
        reason = _record_failure(session, scenario, step)
    # A step outside --start-step/--end-step keeps the result of the pass that ran it.
    event = "step_not_run" if session.outside_window else "step_finished"
    session.run.journal.write(event, step=step.number, name=step.name,
                              location=step.location, tags=step.tags, status=status,
                              reason=reason, duration=duration)
    console.step_line(step, status, duration, reason)
    session.allure.after_scenario(context, scenario)


def _failed_step(scenario):
    return next((s for s in scenario.all_steps
                 if s.status.name in ("failed", "error", "undefined")), None)


def _record_failure(session: Session, scenario, step: PlanStep) -> str:
    import allure

    failed = _failed_step(scenario)
    if failed is not None and failed.status.name == "undefined":
        error = f"undefined step: {failed.keyword} {failed.name} (no step definition matches it)"
    else:
        error = (failed.error_message if failed else None) or "scenario failed in a hook"
    exception = getattr(failed, "exception", None)
    command = session.last_command
    failure = diagnostics.Failure(
        step=step.number, name=step.name, location=step.location,
        error=_one_line(error),
        exit_code=getattr(command, "exit_code", None),
        command=" ".join(getattr(command, "argv", []) or []) or None,
        output_tail=_output_tail(scenario, command),
        traceback="".join(traceback.format_exception(exception)) if exception else error,
    )
    context = diagnostics.CollectorContext(session.run.run_id, session.target, session.run.state,
                                           step.name)
    bundle = diagnostics.collect_bundle(failure, context, COLLECTORS, DIAGNOSTICS_TIMEOUT)
    text = diagnostics.render(bundle)
    diagnostics.save(bundle, session.run.dir / "diagnostics")
    with open(session.run.dir / "failures.log", "a", encoding="utf-8") as log:
        log.write(text + "\n")
    session.run.journal.write("diagnostics", step=step.number, bundle=bundle)
    allure.attach(text, name="diagnostics", attachment_type=allure.attachment_type.TEXT)
    return redactor.text(failure.error)


def _one_line(error: str, limit: int = 300) -> str:
    """The gist of a failure message: "ASSERT FAILED: Expected: <0> but: was <3>"."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        lines = lines[-1:]
    text = " ".join(lines)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _output_tail(scenario, command, lines: int = 40) -> str:
    parts = []
    if command is not None and getattr(command, "output_tail", None):
        parts.append(command.output_tail)
    for captured in [scenario.captured] + [step.captured for step in scenario.all_steps]:
        if captured and captured.output:
            parts.append(captured.output)
    return "\n".join("\n".join(parts).splitlines()[-lines:])


def after_all(context) -> None:
    session: Optional[Session] = getattr(context, "gauntlet", None)
    if session is None:
        return
    session.allure.after_all(context)
    run = session.run
    data = reports.write_all(run.dir)
    run.journal.write("behave_finished", summary=data, interrupted_by=session.interrupted_by)
    if not session.owner:  # the runner owns the environment: services outlive this pass
        from gauntlet.local import supervisor

        for service in supervisor.running_services():
            service.keep = True
        return
    console.finish(session, data)
    keep = data["failed"] and console.keep_environment(session)
    if keep:
        run.journal.write("environment_kept", reason="failures; policy keep")
        print(f"environment kept for debugging; tear it down with: "
              f"bin/end-to-end-test --teardown-only --run-id {run.run_id}", file=sys.__stderr__)
        from gauntlet.local import supervisor

        for service in supervisor.running_services():
            service.keep = True
    else:
        print(teardown(run).line(), file=sys.__stderr__)
    if session.interrupted_by:
        sys.__stdout__.flush()
        os._exit(128 + session.interrupted_by)
