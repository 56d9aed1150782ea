"""Run one validated suite: its steps in order, each timed on the clock, into a WorkflowResult.

The executor talks to three things it is given:

- a :class:`Deployment` (``init()``, ``deploy()``, ``teardown()``): brings the cluster up and
  down; the local cluster and real providers implement it;
- a :class:`~gauntlet.checks.context.CheckContext`: power control (``context.power``), the
  database probe, SSH reachability and the deploy dir, for power steps and checks;
- a :class:`~gauntlet.checks.registry.ValidationRegistry` for validate steps.

A failed step stops the workflow: later steps are skipped ("an earlier step failed") and the
result's ``success`` is false. ``NotImplementedError`` from a power adapter fails its step with
the adapter's message. Unmet requirements skip the whole suite before anything is touched.
The deployment is torn down after the steps when an init or deploy step ran (unless
``keep_on_failure`` and a step failed).

Custom step types: register a handler and a schema, then use ``"step": "my_step"`` in files::

    from gauntlet.workflow import executor
    from gauntlet.workflow.schema import Field, StepSchema

    def my_step(run, step):           # run: the WorkflowExecutor; step: the validated Step
        run.power.restart_node(step.params["node"], method="ssh")

    executor.register_step("my_step", my_step,
                           StepSchema(fields={"node": Field("node", required=True)}))

A handler returns None (completed) or a :class:`StepOutcome`; raising fails the step.
"""

from __future__ import annotations

import os
import signal
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from gauntlet.adapters.power.base import PowerControl
from gauntlet.checks import builtin
from gauntlet.checks.context import CheckContext
from gauntlet.checks.polling import describe_error
from gauntlet.checks.registry import ValidationRegistry, validation_registry
from gauntlet.clock import Clock, default_clock
from gauntlet.workflow.results import (
    COMPLETED,
    FAILED,
    SKIPPED,
    StepResult,
    WorkflowResult,
    make_deployment_id,
    write_result,
)
from gauntlet.workflow.schema import STEP_TYPES, Requirements, Step, StepSchema, StepType, StepTypes, Suite

EARLIER_FAILURE = "an earlier step failed"
OUTPUT_TAIL_CHARS = 4000


class Deployment(ABC):
    """Brings one suite's cluster into existence and removes it. Raise to fail the step."""

    @abstractmethod
    def init(self) -> None:
        """Prepare (configuration, keys, working directories); nothing runs yet."""

    @abstractmethod
    def deploy(self) -> None:
        """Create and start every node; return when the cluster was started."""

    @abstractmethod
    def teardown(self) -> None:
        """Remove everything init/deploy created. Idempotent; called once after the steps."""


@dataclass
class WorkflowEnvironment:
    """What a provider supplies for a run: the deployment and the check context."""

    deployment: Deployment
    context: CheckContext


@dataclass
class StepOutcome:
    """What a step handler reports; ``error`` set means the step failed."""

    error: Optional[str] = None
    validation_results: List[dict] = field(default_factory=list)
    details: Dict[str, Any] = field(default_factory=dict)  # extra keys for the step's result


StepHandler = Callable[["WorkflowExecutor", Step], Optional[StepOutcome]]


def register_step(name: str, fn: StepHandler, schema: Optional[StepSchema] = None,
                  step_types: StepTypes = STEP_TYPES) -> StepType:
    """Add a custom step type (its handler and the schema its fields are validated with;
    no schema: the step takes no fields besides ``description``)."""
    return step_types.define(name, schema or StepSchema(), fn)


# --- requirements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class MachineFacts:
    libvirt_available: bool
    memory_gb: float


LIBVIRT_SOCKETS = (Path("/run/libvirt/libvirt-sock"), Path("/var/run/libvirt/libvirt-sock"))


def probe_machine() -> MachineFacts:
    """This machine: is a libvirt daemon listening, and how much memory it has (GiB)."""
    return MachineFacts(any(socket.exists() for socket in LIBVIRT_SOCKETS), _memory_gb())


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3


def skip_reason(requirements: Requirements, machine: MachineFacts) -> Optional[str]:
    """Why this machine cannot run a suite with these requirements (None: it can)."""
    reasons = []
    if requirements.libvirt_available and not machine.libvirt_available:
        reasons.append("requires libvirt (requirements.libvirt_available) but no libvirt "
                       "daemon is listening on this machine")
    if requirements.min_memory_gb > machine.memory_gb:
        reasons.append(f"requires {requirements.min_memory_gb:g} GB of memory "
                       f"(requirements.min_memory_gb) but this machine has "
                       f"{machine.memory_gb:.1f} GB")
    return "; ".join(reasons) or None


def skipped_result(suite: Suite, deployment_id: str, reason: str) -> WorkflowResult:
    steps = [StepResult(step.step_type, step.description, SKIPPED, skipped_reason=reason)
             for step in suite.workflow]
    return WorkflowResult(deployment_id, False, 0.0, steps, skipped_reason=reason)


# --- the executor -----------------------------------------------------------------------------

class WorkflowExecutor:
    """Runs suites against one environment. See the module docstring for the semantics."""

    def __init__(self, deployment: Deployment, context: CheckContext,
                 registry: Optional[ValidationRegistry] = None, clock: Optional[Clock] = None,
                 step_types: StepTypes = STEP_TYPES, machine: Optional[MachineFacts] = None,
                 reports_dir: Optional[Path] = None, keep_on_failure: bool = False,
                 on_step: Optional[Callable[[Step, StepResult], None]] = None) -> None:
        self.deployment = deployment
        self.context = context
        self.registry = registry or validation_registry
        self.clock = clock or default_clock()
        self.step_types = step_types
        self.machine = machine
        self.reports_dir = reports_dir
        self.keep_on_failure = keep_on_failure
        self.on_step = on_step
        self.suite: Optional[Suite] = None
        self.deployment_id: Optional[str] = None

    @property
    def power(self) -> PowerControl:
        return self.context.power

    def register_step(self, name: str, fn: StepHandler,
                      schema: Optional[StepSchema] = None) -> StepType:
        return register_step(name, fn, schema, self.step_types)

    def run(self, suite: Suite, deployment_id: Optional[str] = None) -> WorkflowResult:
        """Run every step of ``suite``; write the result JSON when ``reports_dir`` is set."""
        self.suite = suite
        self.deployment_id = deployment_id or make_deployment_id(
            suite.provider, suite.name, self.clock.wall())
        reason = skip_reason(suite.requirements, self.machine or probe_machine())
        result = (skipped_result(suite, self.deployment_id, reason) if reason
                  else self._run_steps(suite))
        if self.reports_dir is not None:
            write_result(result, self.reports_dir)
        return result

    def _run_steps(self, suite: Suite) -> WorkflowResult:
        start = self.clock.now()
        results: List[StepResult] = []
        failed = False
        try:
            for step in suite.workflow:
                if failed:
                    result = StepResult(step.step_type, step.description, SKIPPED,
                                        skipped_reason=EARLIER_FAILURE)
                else:
                    result = self.run_step(step)
                    failed = result.status == FAILED
                results.append(result)
                if self.on_step:
                    self.on_step(step, result)
        finally:
            teardown_error = self._teardown(results, failed)
        success = not failed and teardown_error is None
        return WorkflowResult(self.deployment_id, success, self.clock.now() - start, results,
                              teardown_error=teardown_error)

    def run_step(self, step: Step) -> StepResult:
        """Run one step through its handler; any exception fails it with a one-line message."""
        start = self.clock.now()
        try:
            outcome = self._handler(step)(self, step) or StepOutcome()
        except NotImplementedError as error:
            outcome = StepOutcome(error=describe_error(error))
        except Exception as error:  # noqa: BLE001 - a failing step is reported, not raised
            outcome = StepOutcome(error=f"{type(error).__name__}: {describe_error(error)}")
        status = FAILED if outcome.error else COMPLETED
        return StepResult(step.step_type, step.description, status, self.clock.now() - start,
                          outcome.error, outcome.validation_results, details=outcome.details)

    def _handler(self, step: Step) -> StepHandler:
        step_type = self.step_types.get(step.step_type)
        handler = (step_type.handler if step_type else None) or BUILTIN_HANDLERS.get(step.step_type)
        if handler is None:
            raise LookupError(f"no handler for step type {step.step_type!r}")
        return handler

    def _teardown(self, results: List[StepResult], failed: bool) -> Optional[str]:
        """Tear down when init/deploy ran; a teardown failure is reported, never raised."""
        touched = any(r.step_type in ("init", "deploy") and r.status != SKIPPED for r in results)
        if not touched or (failed and self.keep_on_failure):
            return None
        try:
            self.deployment.teardown()
        except Exception as error:  # noqa: BLE001
            return f"{type(error).__name__}: {describe_error(error)}"
        return None


# --- built-in step handlers: actions ----------------------------------------------------------

def init_step(run: WorkflowExecutor, step: Step) -> None:
    run.deployment.init()


def deploy_step(run: WorkflowExecutor, step: Step) -> StepOutcome:
    run.deployment.deploy()
    return StepOutcome(details=_plant_sentinel(run))


def _plant_sentinel(run: WorkflowExecutor) -> Dict[str, Any]:
    """Write the data_integrity sentinel right after deploy, when the suite checks it later.

    Not being able to yet (database still electing) is no deploy failure: the first
    data_integrity check plants it instead. The outcome is recorded on the step.
    """
    if not (run.suite and run.suite.uses_check("data_integrity")):
        return {}
    try:
        sentinel = builtin.plant_sentinel(run.context)
    except Exception as error:  # noqa: BLE001
        return {"sentinel": f"not planted ({describe_error(error)}); the first data_integrity "
                            f"check plants it"}
    return {"sentinel": f"planted {sentinel.key}"}


def stop_cluster_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.stop_cluster()


def start_cluster_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.start_cluster()


def stop_node_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.stop_node(step.target_node)


def start_node_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.start_node(step.target_node)


def restart_node_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.restart_node(step.target_node, method=step.method or "ssh")


def crash_node_step(run: WorkflowExecutor, step: Step) -> None:
    run.power.crash_node(step.target_node, method=step.method or "ssh")


def custom_command_step(run: WorkflowExecutor, step: Step) -> StepOutcome:
    """Run the argv (no shell) in the suite file's folder; non-zero exit fails the step."""
    argv = list(step.custom_command)
    cwd = run.suite.directory if run.suite else Path.cwd()
    try:
        exit_code, output = run_command(argv, cwd, step.timeout_seconds, _command_env(run))
    except FileNotFoundError:
        return StepOutcome(error=f"command not found: {argv[0]} (run in {cwd})",
                           details={"exit_code": None, "output_tail": ""})
    except PermissionError:
        return StepOutcome(error=f"command not executable: {argv[0]} (run in {cwd})",
                           details={"exit_code": None, "output_tail": ""})
    details = {"exit_code": exit_code, "output_tail": output[-OUTPUT_TAIL_CHARS:]}
    if exit_code is None:
        return StepOutcome(error=f"timed out after {step.timeout_seconds:g}s: "
                                 f"{' '.join(argv)}", details=details)
    if exit_code != 0:
        last_line = next((line for line in reversed(output.splitlines()) if line.strip()), "")
        error = f"exit code {exit_code}" + (f": {last_line.strip()[:200]}" if last_line else "")
        return StepOutcome(error=error, details=details)
    return StepOutcome(details=details)


def _command_env(run: WorkflowExecutor) -> Dict[str, str]:
    """The command's environment: ours plus what it needs to find this run's cluster."""
    suite = run.suite
    env = dict(os.environ)
    env.update({
        "GAUNTLET_SUITE": suite.name if suite else "",
        "GAUNTLET_PROVIDER": suite.provider if suite else "",
        "GAUNTLET_NODES": ",".join(suite.nodes) if suite else "",
        "GAUNTLET_DEPLOYMENT_ID": run.deployment_id or "",
        "GAUNTLET_DEPLOY_DIR": str(run.context.deploy_dir),
    })
    return env


def run_command(argv: List[str], cwd: Path, timeout: Optional[float],
                env: Dict[str, str]) -> "tuple[Optional[int], str]":
    """(exit code or None on timeout, combined stdout+stderr). Kills the whole process group
    on timeout, so a script's children cannot keep the step waiting."""
    with subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
            exit_code: Optional[int] = process.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            output, _ = process.communicate()
            exit_code = None
    return exit_code, output.decode("utf-8", errors="replace")


# --- built-in step handlers: probes -----------------------------------------------------------

def validate_step(run: WorkflowExecutor, step: Step) -> StepOutcome:
    """Each check with the step's retry; allowed failures are recorded but do not fail it."""
    outcomes = [run.registry.evaluate(name, run.context, step.retry.max_attempts,
                                      step.retry.delay_seconds, run.clock,
                                      allow_failure=name in step.allow_failures)
                for name in step.check_names()]
    failures = [outcome for outcome in outcomes if not outcome.passed and not outcome.allowed]
    error = None
    if failures:
        error = "checks failed: " + ", ".join(
            f"{outcome.check} ({outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}"
            + (f": {outcome.error}" if outcome.error else "") + ")"
            for outcome in failures)
    return StepOutcome(error, [outcome.to_json() for outcome in outcomes])


BUILTIN_HANDLERS: Dict[str, StepHandler] = {
    "init": init_step,
    "deploy": deploy_step,
    "validate": validate_step,
    "stop_cluster": stop_cluster_step,
    "start_cluster": start_cluster_step,
    "stop_node": stop_node_step,
    "start_node": start_node_step,
    "restart_node": restart_node_step,
    "crash_node": crash_node_step,
    "custom_command": custom_command_step,
}
