"""Failsafety steps: power operations and validation checks on a real local cluster, JSON
workflow suites through the executor, and the provider capability matrix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from behave import given, then, when
from hamcrest import (
    any_of,
    assert_that,
    contains_string,
    empty,
    equal_to,
    has_entries,
    has_key,
    has_length,
    instance_of,
    is_in,
    only_contains,
)

from gauntlet.adapters.power import matrix
from gauntlet.adapters.power.registry import power_class, power_for
from gauntlet.adapters.power.testbeds import Ec2Testbed, LibvirtTestbed
from gauntlet.checks.registry import ValidationRegistry
from gauntlet.clock import VirtualClock
from gauntlet.local.nodes.workflow import workflow_environment
from gauntlet.targets import REPO_ROOT
from gauntlet.workflow.executor import WorkflowExecutor
from gauntlet.workflow.loader import load_workflow_file

CHECK_INTERVAL = 0.5


def names(text: str):
    return [name.strip() for name in re.split(r",\s*|\s+and\s+", text) if name.strip()]


def scenario_dir(context) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", context.scenario.name.lower()).strip("-")[:50]
    return context.gauntlet.run.path("failsafety", slug, "x").parent


# -- the local cluster, step by step ----------------------------------------------------------

@given("a local cluster of nodes {nodes} is deployed")
def step_deploy(context, nodes):
    """Start a real cluster for this scenario; its processes go into the run's ledger."""
    ledger = context.gauntlet.run.ledger
    environment = workflow_environment(SimpleNamespace(nodes=names(nodes)), scenario_dir(context),
                                       on_started=ledger.record, on_stopped=ledger.release)
    environment.deployment.init()
    context.add_cleanup(environment.deployment.teardown)
    environment.deployment.deploy()
    context.checks = environment.context
    context.registry = ValidationRegistry()


def evaluate(context, check: str, attempts: int = 1, delay: float = 0.0, allow_failure=False):
    return context.registry.evaluate(check, context.checks, max_attempts=attempts,
                                     delay_seconds=delay, allow_failure=allow_failure)


@given("these checks pass: {checks}")
@then("these checks pass: {checks}")
def step_checks_pass(context, checks):
    for check in names(checks):
        outcome = evaluate(context, check)
        assert_that(outcome.passed, equal_to(True), f"{check}: {outcome.error}")


@then("within {seconds:d} seconds these checks pass: {checks}")
def step_checks_pass_within(context, seconds, checks):
    attempts = int(seconds / CHECK_INTERVAL) + 1
    for check in names(checks):
        outcome = evaluate(context, check, attempts, CHECK_INTERVAL)
        assert_that(outcome.passed, equal_to(True), f"{check} after {outcome.attempts} attempts: "
                                                    f"{outcome.error}")


@then("the check {check} passes within {attempts:d} attempts {delay:g} second apart")
def step_check_retry(context, check, attempts, delay):
    outcome = evaluate(context, check, attempts, delay)
    assert_that(outcome.passed, equal_to(True), f"{check}: {outcome.error}")
    print(f"{check} passed after {outcome.attempts} attempt(s)")


@then("the check {check} may fail without failing the validation")
def step_allowed_failure(context, check):
    outcome = evaluate(context, check, allow_failure=True)
    assert_that(outcome.passed or outcome.allowed, equal_to(True))


@when("the cluster is stopped")
def step_stop_cluster(context):
    context.checks.power.stop_cluster()


@when("the cluster is started")
def step_start_cluster(context):
    context.checks.power.start_cluster()


@when("node {node} is stopped")
def step_stop_node(context, node):
    context.checks.power.stop_node(node)


@when("node {node} is started")
def step_start_node(context, node):
    context.checks.power.start_node(node)


@when('node {node} is crashed with method "{method}"')
def step_crash_node(context, node, method):
    context.checks.power.crash_node(node, method=method)


@when('node {node} is restarted with method "{method}"')
def step_restart_node(context, node, method):
    context.checks.power.restart_node(node, method=method)


# -- JSON workflow suites ---------------------------------------------------------------------

@given('a workflow suite "{suite}" whose only step runs {argv}')
def step_suite_command(context, suite, argv):
    write_suite(context, suite, [{"step": "custom_command", "custom_command": json.loads(argv)}])


@given('a workflow suite "{suite}" with the step {step}')
def step_suite_with_step(context, suite, step):
    write_suite(context, suite, [{"step": "init"}, {"step": "deploy"}, json.loads(step)])


@given('a workflow suite "{suite}" that requires {memory:d} GB of memory')
def step_suite_requirement(context, suite, memory):
    write_suite(context, suite, [{"step": "init"}], requirements={"min_memory_gb": memory})


@given('a custom check "{name}" is registered')
def step_register_check(context, name):
    context.registry = ValidationRegistry()
    context.registry.register(name, "the deploy directory exists",
                              lambda ctx: Path(ctx["deploy_dir"]).is_dir())


@given('a workflow suite "{suite}" whose only step validates "{check}"')
def step_suite_validates(context, suite, check):
    write_suite(context, suite, [{"step": "init"}, {"step": "validate", "checks": [check]}])


def write_suite(context, suite, workflow, requirements=None):
    body = {"provider": "local", "test_type": "workflow", "description": f"{suite} (generated)",
            "parameters": {"cluster_size": 3}, "workflow": workflow}
    if requirements:
        body["requirements"] = requirements
    path = scenario_dir(context) / f"{suite}.json"
    path.write_text(json.dumps({"test_suites": {suite: body}}, indent=2))
    context.suite_file = path


@when('the workflow suite "{suite}" of that file runs')
@when('the workflow suite "{suite}" of "{file}" runs')
def step_run_suite(context, suite, file=None):
    """Run the suite through the executor on the local provider, as `gauntlet workflow run` does."""
    path = Path(file) if file else context.suite_file
    registry = getattr(context, "registry", None) or ValidationRegistry()
    loaded = load_workflow_file(REPO_ROOT / path if not path.is_absolute() else path, registry)
    definition = loaded.suites[suite]
    deploy_dir = scenario_dir(context) / "deploy"
    ledger = context.gauntlet.run.ledger
    environment = workflow_environment(definition, deploy_dir, on_started=ledger.record,
                                       on_stopped=ledger.release)
    context.add_cleanup(environment.deployment.teardown)
    context.deployment = environment.deployment
    executor = WorkflowExecutor(environment.deployment, environment.context, registry=registry,
                                reports_dir=context.gauntlet.run.dir)
    context.workflow = executor.run(definition)
    context.cluster_dir = deploy_dir / "cluster"
    context.result_json = json.loads(Path(context.workflow.path).read_text())


@then("the suite succeeded with every step completed in order")
def step_suite_succeeded(context):
    steps = context.result_json["workflow_steps"]
    failures = [(s["step_type"], s["error"]) for s in steps if s["status"] != "completed"]
    assert_that(failures, empty())
    assert_that(context.result_json["success"], equal_to(True))


@then("every validate step recorded its checks and their attempts")
def step_validate_attempts(context):
    validates = [s for s in context.result_json["workflow_steps"] if s["step_type"] == "validate"]
    for step in validates:
        assert_that(step["validation_results"], only_contains(
            has_entries(check=instance_of(str), passed=True, attempts=instance_of(int))))
        print(f"{step['description']}: " + ", ".join(
            f"{r['check']} x{r['attempts']}" for r in step["validation_results"]))


@then("its result JSON has these fields")
def step_result_fields(context):
    types = {"string": instance_of(str), "bool": instance_of(bool), "list": instance_of(list),
             "number": any_of(instance_of(int), instance_of(float))}
    for row in context.table:
        assert_that(context.result_json, has_key(row["field"]))
        assert_that(context.result_json[row["field"]], types[row["type"]], row["field"])


@then("every workflow step has step_type, description, status, duration, error and "
      "validation_results")
def step_result_steps(context):
    for step in context.result_json["workflow_steps"]:
        for field in ("step_type", "description", "status", "duration", "error",
                      "validation_results"):
            assert_that(step, has_key(field))


@then("no node process of the suite is left running")
def step_no_node_left(context):
    context.deployment.teardown()  # what the executor's cleanup does; idempotent
    assert_that(context.deployment.cluster.leftover_processes(), empty())


@then('the step "{step_type}" failed with exit code {code:d} and output "{text}"')
def step_command_failed(context, step_type, code, text):
    step = next(s for s in context.result_json["workflow_steps"] if s["step_type"] == step_type)
    assert_that(step["status"], equal_to("failed"))
    assert_that(step.get("exit_code"), equal_to(code))
    assert_that(step.get("output_tail", ""), contains_string(text))


@then("the suite was skipped because it needs {memory:d} GB of memory")
def step_suite_skipped(context, memory):
    assert_that(context.result_json["success"], equal_to(False))
    assert_that(context.result_json.get("skipped_reason", ""), contains_string(str(memory)))


@when('"gauntlet workflow {command}" checks every file in {folder}')
@when('"gauntlet workflow {command}" lists {folder}')
def step_workflow_cli(context, command, folder):
    paths = sorted(str(p) for p in Path(REPO_ROOT / folder).glob("*.json")) \
        if (REPO_ROOT / folder).is_dir() else [str(REPO_ROOT / folder)]
    done = subprocess.run([sys.executable, "-m", "gauntlet", "workflow", command, *paths],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    context.cli = done


@when('"gauntlet workflow run" runs it')
def step_workflow_cli_run(context):
    done = subprocess.run([sys.executable, "-m", "gauntlet", "workflow", "run",
                           str(context.suite_file), "--suite", "bad"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    context.cli = done


@then('it exits 0 and says "{text}"')
def step_cli_ok(context, text):
    assert_that(context.cli.returncode, equal_to(0), context.cli.stderr)
    assert_that(context.cli.stdout, contains_string(text))


@then('it exits 2 with one line naming the file, suite "{suite}", step {index:d} and "{field}"')
def step_cli_refused(context, suite, index, field):
    assert_that(context.cli.returncode, equal_to(2))
    lines = [line for line in (context.cli.stdout + context.cli.stderr).splitlines() if line.strip()]
    assert_that(lines, has_length(1))
    for part in (context.suite_file.name, f"suite '{suite}'", f"step {index}", field):
        assert_that(lines[0], contains_string(part))


# -- providers --------------------------------------------------------------------------------

@then("the {provider} row says what the document says for every operation")
def step_matrix_row(context, provider):
    row = {operation: matrix.document_cell(provider, operation) for operation in matrix.OPERATIONS}
    print(json.dumps(row, indent=1))
    assert_that(list(row.values()), only_contains(is_in(matrix.DOCUMENT_VALUES)))
    for operation in matrix.OPERATIONS:
        if matrix.document_cell(provider, operation) in ("No", "Manual") and \
                matrix.gauntlet_cell(provider, operation) == "api":
            assert_that(matrix.cell(provider, operation)["note"], contains_string(matrix.BEYOND))


@then("every {provider} operation is implemented through its API or over SSH")
def step_matrix_implemented(context, provider):
    cls = power_class(provider)
    for operation in matrix.capabilities(provider):
        method = operation.split(":")[0]
        assert_that(callable(getattr(cls, method, None)), equal_to(True), f"{provider}.{method}")
        assert_that(matrix.gauntlet_cell(provider, operation), is_in(("api", "ssh", "in-guest")))


@given("{count:d} EC2 instances named {nodes} are running")
def step_ec2_testbed(context, count, nodes):
    context.testbed = Ec2Testbed(context.gauntlet.run.run_id, names(nodes),
                                 context.gauntlet.run.ledger.record)
    assert_that(context.testbed.node_ids, has_length(count))
    context.power = power_for("aws", node_ids=context.testbed.node_ids, interval=0.05, timeout=30)


@given("libvirt's test driver with a {kind} domain named {node}")
def step_libvirt_testbed(context, kind, node):
    context.testbed = LibvirtTestbed([node], transient=(kind == "transient"))
    context.power = power_for("libvirt", client=context.testbed.connection,
                              node_ids=context.testbed.node_ids, clock=VirtualClock())


@when("node {node} is {operation} through the {provider} provider")
@when('node {node} is crashed with method "{method}" through the {provider} provider')
def step_provider_operation(context, node, provider, operation=None, method=None):
    context.refused = None
    try:
        if method:
            context.power.crash_node(node, method=method)
        elif operation == "stopped":
            context.power.stop_node(node)
        else:
            context.power.start_node(node)
    except NotImplementedError as error:
        context.refused = error


@then('{what} {node} is "{state}"')
def step_machine_state(context, what, node, state):
    assert_that(context.refused, equal_to(None))
    assert_that(context.testbed.state(node), equal_to(state))


@then('the operation is refused with NotImplementedError naming "{provider}", "{operation}" '
      'and "{alternative}"')
def step_refused(context, provider, operation, alternative):
    assert_that(context.refused, instance_of(NotImplementedError))
    for part in (provider, operation, alternative):
        assert_that(str(context.refused), contains_string(part))
