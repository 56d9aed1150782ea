"""gauntlet.workflow.schema and loader: each validation rule, defaults, and the fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gauntlet.checks.registry import ValidationRegistry
from gauntlet.workflow.fakes import fake_capabilities
from gauntlet.workflow.loader import MissingComponent, default_capabilities, load_workflow_file
from gauntlet.workflow import loader
from gauntlet.workflow.schema import (
    POWER_OPERATIONS,
    Field,
    Retry,
    StepSchema,
    StepTypes,
    WorkflowError,
    parse_document,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "workflows"


def suite(**overrides):
    raw = {"provider": "local", "test_type": "workflow", "description": "d",
           "parameters": {"cluster_size": 3},
           "requirements": {"libvirt_available": False, "min_memory_gb": 1},
           "workflow": [{"step": "init"}, {"step": "deploy"}]}
    raw.update(overrides)
    return raw


def doc(*steps, **overrides):
    raw = suite(**overrides)
    if steps:
        raw["workflow"] = list(steps)
    return {"test_suites": {"s": raw}}


def parse(data, registry=None, step_types=None, capabilities=fake_capabilities):
    return parse_document(data, "x.json", registry or ValidationRegistry(), capabilities,
                          step_types or StepTypes())


def error_of(data, **kwargs) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        parse(data, **kwargs)
    return caught.value


# --- the shipped fixtures ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["failsafety_basic", "single_node_failure", "crash_recovery",
                                  "custom_command"])
def test_fixture_workflows_are_valid_local_three_node_suites(name):
    workflow = load_workflow_file(FIXTURES / f"{name}.json", ValidationRegistry(),
                                  fake_capabilities)
    for parsed in workflow.suites.values():
        assert parsed.provider == "local"
        assert parsed.nodes == ("n11", "n12", "n13")
        assert parsed.source == (FIXTURES / f"{name}.json").resolve()
        assert parsed.directory == FIXTURES


def test_the_crash_recovery_fixture_is_the_documented_example():
    crash = load_workflow_file(FIXTURES / "crash_recovery.json", ValidationRegistry(),
                               fake_capabilities).suites["crash_recovery"]
    assert [step.step_type for step in crash.workflow] == [
        "init", "deploy", "crash_node", "crash_node", "validate", "start_node", "start_node",
        "validate"]
    assert crash.workflow[2].method == "destroy"
    assert crash.workflow[4].allow_failures == ("database_down",)
    assert crash.workflow[7].retry == Retry(5, 30.0)


# --- parsed values and defaults ---------------------------------------------------------------

def test_steps_are_numbered_from_one_with_typed_fields_and_defaults():
    parsed = parse(doc({"step": "init"},
                       {"step": "restart_node", "target_node": "n12"},
                       {"step": "crash_node", "target_node": "n13", "description": "boom"},
                       {"step": "validate", "checks": ["cluster_status"]},
                       {"step": "custom_command", "custom_command": ["true", "a b"]}))
    steps = parsed.suites["s"].workflow
    assert [step.index for step in steps] == [1, 2, 3, 4, 5]
    assert steps[1].method == "ssh" and steps[1].description == "Restart node n12 (ssh)"
    assert steps[2].method == "ssh" and steps[2].description == "boom"
    assert steps[3].retry == Retry(1, 0.0) and steps[3].description == "Validate cluster_status"
    assert steps[4].custom_command == ("true", "a b")
    assert steps[4].timeout_seconds == 300.0
    assert steps[4].description == "Run true 'a b'"
    assert parsed.step_count == 5


def test_nodes_default_to_n11_upwards_one_per_cluster_size():
    assert parse(doc()).suites["s"].nodes == ("n11", "n12", "n13")
    assert parse(doc(parameters={"cluster_size": 5})).suites["s"].nodes == (
        "n11", "n12", "n13", "n14", "n15")
    assert parse(doc(parameters={})).suites["s"].nodes == ("n11", "n12", "n13")
    assert parse(doc(parameters={"cluster_size": 10})).suites["s"].nodes[-1] == "n20"


def test_explicit_nodes_replace_the_default_names():
    parsed = parse(doc({"step": "stop_node", "target_node": "db-b"},
                       parameters={"nodes": ["db-a", "db-b", "db-c"], "cluster_size": 3}))
    assert parsed.suites["s"].nodes == ("db-a", "db-b", "db-c")
    error = error_of(doc({"step": "stop_node", "target_node": "n11"},
                         parameters={"nodes": ["db-a", "db-b", "db-c"]}))
    assert error.field == "target_node" and "(nodes: db-a, db-b, db-c)" in error.reason


def test_extra_parameters_are_kept():
    parsed = parse(doc(parameters={"cluster_size": 3, "libvirt_memory_gb": 8}))
    assert parsed.suites["s"].parameters["libvirt_memory_gb"] == 8


def test_description_parameters_and_requirements_are_optional():
    raw = suite()
    for key in ("description", "parameters", "requirements"):
        del raw[key]
    parsed = parse({"test_suites": {"s": raw}}).suites["s"]
    assert parsed.description == ""
    assert parsed.requirements.libvirt_available is False
    assert parsed.requirements.min_memory_gb == 0


def test_allow_failures_not_in_checks_run_as_optional_checks():
    step = parse(doc({"step": "validate", "checks": ["cluster_critical"],
                      "allow_failures": ["database_down", "cluster_critical"]})
                 ).suites["s"].workflow[0]
    assert step.check_names() == ["cluster_critical", "database_down"]


def test_node_status_checks_are_parsed_against_the_suite_nodes():
    checks = ["node_status:n11", "node_status:n12:stopped", "node_status:n13:paused"]
    parse(doc({"step": "validate", "checks": checks}))
    error = error_of(doc({"step": "validate", "checks": ["node_status:n14"]}))
    assert (error.step, error.field) == (1, "checks[0]")
    assert "unknown node 'n14'" in error.reason


def test_registered_checks_are_known():
    registry = ValidationRegistry()
    registry.register("optional_check", "an extra", lambda ctx: True)
    parse(doc({"step": "validate", "checks": ["cluster_status"],
               "allow_failures": ["optional_check"]}), registry=registry)
    error = error_of(doc({"step": "validate", "checks": ["optional_check"]}))
    assert "unknown check 'optional_check'" in error.reason


# --- provider operations ----------------------------------------------------------------------

@pytest.mark.parametrize("step,operation", [
    ({"step": "stop_cluster"}, "stop_cluster"),
    ({"step": "start_cluster"}, "start_cluster"),
    ({"step": "stop_node", "target_node": "n11"}, "stop_node"),
    ({"step": "start_node", "target_node": "n11"}, "start_node"),
    ({"step": "restart_node", "target_node": "n11"}, "restart_node:ssh"),
    ({"step": "restart_node", "target_node": "n11", "method": "graceful"}, "restart_node:graceful"),
    ({"step": "crash_node", "target_node": "n11"}, "crash_node:ssh"),
    ({"step": "crash_node", "target_node": "n11", "method": "destroy"}, "crash_node:destroy"),
])
def test_each_power_step_asks_the_provider_for_its_operation(step, operation):
    assert operation in POWER_OPERATIONS
    asked = []

    def capabilities(provider):
        asked.append(provider)
        return set(POWER_OPERATIONS) - {operation}

    error = error_of(doc(step), capabilities=capabilities)
    assert asked == ["local"]
    assert f"provider 'local' cannot {operation}" in error.reason
    assert error.field == ("method" if ":" in operation else "step")
    parse(doc(step), capabilities=lambda provider: {operation})


def test_steps_without_power_operations_need_no_capability():
    parse(doc({"step": "init"}, {"step": "deploy"}, {"step": "validate", "checks": ["cluster_status"]},
              {"step": "custom_command", "custom_command": ["true"]}),
          capabilities=lambda provider: set())


def test_an_unknown_provider_is_an_error_on_the_provider_field():
    error = error_of(doc(provider="vmware"))
    assert (error.suite, error.step, error.field) == ("s", None, "provider")


def test_the_default_capabilities_come_from_the_power_matrix_or_fail_clearly(monkeypatch):
    monkeypatch.setattr(loader, "CAPABILITIES_FUNCTION", "gauntlet.no_such_module:capabilities")
    with pytest.raises(MissingComponent, match="gauntlet.no_such_module:capabilities"):
        default_capabilities()


# --- type and structure rules (one per rule; the corpus covers files) ------------------------

@pytest.mark.parametrize("mutate,field,fragment", [
    (lambda d: d.update(extra=1), "extra", "unknown top-level field"),
    (lambda d: d["test_suites"]["s"].update(provider=""), "provider", "non-empty string"),
    (lambda d: d["test_suites"]["s"].update(test_type="Workflow"), "test_type", "must be \"workflow\""),
    (lambda d: d["test_suites"]["s"].update(parameters={"cluster_size": 2.5}),
     "parameters.cluster_size", "whole number"),
    (lambda d: d["test_suites"]["s"].update(parameters={"cluster_size": True}),
     "parameters.cluster_size", "whole number"),
    (lambda d: d["test_suites"]["s"].update(parameters={"nodes": []}), "parameters.nodes", "non-empty list"),
    (lambda d: d["test_suites"]["s"].update(parameters={"nodes": ["n 1"]}), "parameters.nodes", "node names"),
    (lambda d: d["test_suites"]["s"].update(requirements={"min_memory_gb": "32"}),
     "requirements.min_memory_gb", "finite number"),
    (lambda d: d["test_suites"]["s"].update(requirements=[]), "requirements", "JSON object"),
    (lambda d: d["test_suites"]["s"].update(workflow={"step": "init"}), "workflow", "non-empty list"),
])
def test_suite_level_rules(mutate, field, fragment):
    data = doc()
    mutate(data)
    error = error_of(data)
    assert error.field == field and fragment in error.reason


@pytest.mark.parametrize("step,field,fragment", [
    ({"step": "init", "target_node": "n11"}, "target_node", "unknown field for init"),
    ({"step": "stop_cluster", "description": 3}, "description", "must be a string"),
    ({"step": "validate", "checks": ["cluster_status"], "allow_failures": "database_down"},
     "allow_failures", "list of strings"),
    ({"step": "validate", "checks": ["cluster_status"], "allow_failures": ["nope"]},
     "allow_failures[0]", "unknown check 'nope'"),
    ({"step": "validate", "checks": ["node_status"]}, "checks[0]", "expected node_status:<node>"),
    ({"step": "validate", "checks": ["node_status:n11:running:x"]}, "checks[0]", "malformed"),
    ({"step": "validate", "checks": ["cluster_status"], "retry": {"max_attempts": 2.0}},
     "retry.max_attempts", "whole number"),
    ({"step": "validate", "checks": ["cluster_status"],
      "retry": {"max_attempts": 2, "delay_seconds": "30"}}, "retry.delay_seconds", "finite number"),
    ({"step": "restart_node", "target_node": "n11", "method": None}, "method", "one of ssh, graceful"),
    ({"step": "custom_command", "custom_command": ["echo", "a\u0000b"]}, "custom_command[1]", "NUL"),
    ({"step": "custom_command", "custom_command": ["true"], "timeout_seconds": "10"},
     "timeout_seconds", "finite number"),
    ({"step": "custom_command", "custom_command": ["true"], "shell": True}, "shell", "unknown field"),
])
def test_step_level_rules(step, field, fragment):
    error = error_of(doc({"step": "init"}, step))
    assert (error.suite, error.step, error.field) == ("s", 2, field)
    assert error.step_type == step["step"]
    assert fragment in error.reason


def test_validation_stops_at_the_first_problem_in_file_order():
    error = error_of(doc({"step": "stop_node", "target_node": "n19"}, {"step": "bogus"}))
    assert error.step == 1


def test_a_zero_delay_retry_is_valid():
    step = parse(doc({"step": "validate", "checks": ["cluster_status"],
                      "retry": {"max_attempts": 3}})).suites["s"].workflow[0]
    assert step.retry == Retry(3, 0.0)


def test_errors_are_one_line_even_for_values_with_newlines():
    error = error_of(doc({"step": "validate", "checks": ["line one\nline two"]}))
    assert "\n" not in str(error)


def test_json_errors_carry_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "test_suites": {\n    "s": {,\n')
    with pytest.raises(WorkflowError) as caught:
        load_workflow_file(path, ValidationRegistry(), fake_capabilities)
    assert str(caught.value).startswith(f"{path}: invalid JSON at line 3, column 11: ")


def test_a_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(WorkflowError, match="cannot read: No such file"):
        load_workflow_file(tmp_path / "absent.json", ValidationRegistry(), fake_capabilities)


# --- custom step types ------------------------------------------------------------------------

def test_a_custom_step_type_is_validated_with_its_schema():
    types = StepTypes()
    types.define("wait_for_sync", StepSchema(
        fields={"node": Field("node", required=True),
                "seconds": Field("number", default=10, minimum=0),
                "mode": Field("choice", choices=("fast", "full"), default="fast")},
        operation="restart_node:{mode}"))
    parsed = parse(doc({"step": "wait_for_sync", "node": "n12"}),
                   capabilities=lambda provider: {"restart_node:fast"}, step_types=types)
    assert parsed.suites["s"].workflow[0].params == {"node": "n12", "seconds": 10, "mode": "fast"}
    assert error_of(doc({"step": "wait_for_sync"}), step_types=types).field == "node"
    assert error_of(doc({"step": "wait_for_sync", "node": "n12", "seconds": -1}),
                    step_types=types).field == "seconds"
    assert "cannot restart_node:full" in error_of(
        doc({"step": "wait_for_sync", "node": "n12", "mode": "full"}), step_types=types,
        capabilities=lambda provider: {"restart_node:fast"}).reason
    assert "unknown step type 'wait_for_sync'" in error_of(doc({"step": "wait_for_sync"})).reason


def test_built_in_step_types_cannot_be_redefined():
    types = StepTypes()
    with pytest.raises(ValueError, match="already defined"):
        types.define("validate", StepSchema())
    with pytest.raises(ValueError, match="reserved"):
        types.define("mine", StepSchema(fields={"description": Field("text")}))


# --- robustness -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)

VALID = doc({"step": "init"}, {"step": "deploy"},
            {"step": "validate", "checks": ["cluster_status"], "retry": {"max_attempts": 2}},
            {"step": "crash_node", "target_node": "n11", "method": "destroy"},
            {"step": "custom_command", "custom_command": ["true"]})


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


PATHS = [path for path in _paths(VALID) if path]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_any_single_replacement_parses_or_fails_with_a_located_one_line_error(path, value):
    data = copy.deepcopy(VALID)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        parse(json.loads(json.dumps(data)))
    except WorkflowError as error:
        assert "\n" not in str(error) and str(error).startswith("x.json: ")
