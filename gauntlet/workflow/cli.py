"""``gauntlet workflow validate|list|run``: check, list and run JSON workflow suites.

- ``validate FILE...``: prints ``ok: N suites, M steps``; exit 0.
- ``list FILE...``: one line per suite: name, provider, step count, description; exit 0.
- ``run FILE --suite NAME [--reports DIR]``: runs the suite, one line per step, and writes
  ``DIR/workflows/<deployment_id>.json``; exit 0 when it passed or was skipped (unmet
  requirements, reason printed), 1 when a step failed.

Any problem with the file (or a missing part of Gauntlet) is one line on stderr and exit
status 2, before anything is started.

``run`` gets its deployment and check context from the provider's environment factory,
``factory(suite, deploy_dir) -> WorkflowEnvironment``, named in ENVIRONMENT_FACTORIES.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, TextIO

from gauntlet.checks.registry import ValidationRegistry, validation_registry
from gauntlet.clock import Clock, default_clock
from gauntlet.workflow.executor import (
    MachineFacts,
    WorkflowEnvironment,
    WorkflowExecutor,
    probe_machine,
    skip_reason,
    skipped_result,
)
from gauntlet.workflow.loader import MissingComponent, default_capabilities, load_workflow_file
from gauntlet.workflow.results import StepResult, make_deployment_id, write_result
from gauntlet.workflow.schema import Capabilities, Step, Suite, WorkflowError, WorkflowFile

EnvironmentFactory = Callable[[Suite, Path], WorkflowEnvironment]

ENVIRONMENT_FACTORIES: Dict[str, str] = {
    "local": "gauntlet.local.nodes.workflow:workflow_environment",
}
"""provider -> "module:function" building its WorkflowEnvironment (imported only for ``run``)."""


def _parser():
    from gauntlet.cli import OneLineParser

    parser = OneLineParser(prog="gauntlet workflow",
                           description="Validate, list and run JSON workflow suites.",
                           epilog="Exit status: 0 ok (or suite skipped), 1 a step failed, "
                                  "2 bad input (nothing started).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="check files completely; run nothing")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    listing = commands.add_parser("list", help="print each suite: provider, steps, description")
    listing.add_argument("files", nargs="+", type=Path, metavar="FILE")
    run = commands.add_parser("run", help="run one suite and write its result JSON")
    run.add_argument("file", type=Path, metavar="FILE")
    run.add_argument("--suite", required=True, metavar="NAME", help="the suite to run")
    run.add_argument("--reports", type=Path, default=None, metavar="DIR",
                     help="reports directory (default: reports/ in the repository)")
    for sub in (validate, listing, run):
        sub.error = parser.error  # type: ignore[method-assign]  # one-line errors everywhere
    return parser


def main(argv: Optional[List[str]] = None, *, capabilities: Optional[Capabilities] = None,
         registry: Optional[ValidationRegistry] = None,
         environment_factory: Optional[EnvironmentFactory] = None,
         machine: Optional[MachineFacts] = None, clock: Optional[Clock] = None,
         out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> int:
    """Entry point; the keyword arguments replace real components (tests, other front ends)."""
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        capabilities = capabilities or default_capabilities()
        registry = registry or validation_registry
        paths = args.files if args.command != "run" else [args.file]
        files = [load_workflow_file(path, registry, capabilities) for path in paths]
    except (WorkflowError, MissingComponent) as error:
        print(error, file=err)
        return 2
    if args.command == "validate":
        suites = sum(len(file.suites) for file in files)
        print(f"ok: {suites} suites, {sum(file.step_count for file in files)} steps", file=out)
        return 0
    if args.command == "list":
        _print_suites(files, out)
        return 0
    return _run(files[0], args.suite, args.reports, registry, environment_factory,
                machine or probe_machine(), clock or default_clock(), out, err)


def _print_suites(files: List[WorkflowFile], out: TextIO) -> None:
    suites = [suite for file in files for suite in file.suites.values()]
    width = max(len(suite.name) for suite in suites)
    provider_width = max(len(suite.provider) for suite in suites)
    for suite in suites:
        steps = f"{len(suite.workflow)} steps"
        print(f"{suite.name:<{width}}  {suite.provider:<{provider_width}}  {steps:>9}  "
              f"{suite.description}".rstrip(), file=out)


def _run(file: WorkflowFile, name: str, reports: Optional[Path],
         registry: ValidationRegistry, environment_factory: Optional[EnvironmentFactory],
         machine: MachineFacts, clock: Clock, out: TextIO, err: TextIO) -> int:
    suite = file.suites.get(name)
    if suite is None:
        print(f"{file.path}: field '--suite': unknown suite {name!r} "
              f"(suites: {', '.join(file.suites)})", file=err)
        return 2
    reports = reports or _default_reports_dir()
    deployment_id = make_deployment_id(suite.provider, suite.name, clock.wall())
    reason = skip_reason(suite.requirements, machine)
    if reason:
        path = write_result(skipped_result(suite, deployment_id, reason), reports)
        print(f"skipped: suite '{suite.name}': {reason} (result: {path})", file=out)
        return 0
    try:
        factory = environment_factory or environment_factory_for(suite.provider)
    except MissingComponent as error:
        print(f"{file.path}: suite '{suite.name}': field 'provider': {error}", file=err)
        return 2
    deploy_dir = reports / "workflows" / deployment_id
    deploy_dir.mkdir(parents=True, exist_ok=True)
    try:
        environment = factory(suite, deploy_dir)
    except Exception as error:  # noqa: BLE001 - one line, exit 2: nothing has started yet
        print(f"{file.path}: suite '{suite.name}': cannot set up the {suite.provider} "
              f"environment: {type(error).__name__}: {error}", file=err)
        return 2
    executor = WorkflowExecutor(environment.deployment, environment.context, registry=registry,
                                clock=clock, machine=machine, reports_dir=reports,
                                on_step=lambda step, result: _print_step(suite, step, result, out))
    result = executor.run(suite, deployment_id)
    verdict = "passed" if result.success else "failed"
    print(f"{verdict}: suite '{suite.name}' in {result.duration:.1f}s (result: {result.path})",
          file=out)
    if result.teardown_error:
        print(f"teardown failed: {result.teardown_error}", file=out)
    return 0 if result.success else 1


def _print_step(suite: Suite, step: Step, result: StepResult, out: TextIO) -> None:
    total = len(suite.workflow)
    print(f"[{step.index:>{len(str(total))}}/{total}] {result.status:<9} {step.step_type:<14} "
          f"{step.description} ({result.duration:.1f}s)", file=out)
    if result.error:
        print(f"    error: {result.error}", file=out)
    for check in result.validation_results:
        if not check["passed"]:
            allowed = " (allowed)" if check.get("allowed") else ""
            print(f"    check {check['check']}: failed after {check['attempts']} "
                  f"attempt(s){allowed}", file=out)
    out.flush()


def environment_factory_for(provider: str) -> EnvironmentFactory:
    """Import the provider's environment factory; MissingComponent when there is none."""
    target = ENVIRONMENT_FACTORIES.get(provider)
    if target is None:
        raise MissingComponent(f"no workflow environment for provider {provider!r} "
                               f"(available: {', '.join(ENVIRONMENT_FACTORIES)})")
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise MissingComponent(f"the workflow environment {target} is not available "
                               f"({error})") from None


def _default_reports_dir() -> Path:
    from gauntlet.targets import REPO_ROOT

    return REPO_ROOT / "reports"


if __name__ == "__main__":
    sys.exit(main())
