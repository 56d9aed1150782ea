"""The malformed-workflow corpus: each file has one mistake, reported as its own one-line error
naming file, suite, step and field; the CLI exits 2 with nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest

from gauntlet.checks.registry import ValidationRegistry
from gauntlet.clock import VirtualClock
from gauntlet.workflow.cli import main
from gauntlet.workflow.executor import MachineFacts
from gauntlet.workflow.fakes import FakeCluster, fake_capabilities
from gauntlet.workflow.loader import load_workflow_file
from gauntlet.workflow.schema import WorkflowError

CORPUS = Path(__file__).resolve().parent / "fixtures" / "workflows" / "malformed"

# file stem: (suite, step, field, a fragment of the reason). None: not part of that location.
EXPECTED = {
    "allow_failures_unknown_check": ("basic", 5, "allow_failures[0]", "unknown check 'optional_check'"),
    "check_is_number": ("basic", 7, "checks[1]", "must be a string, got 7"),
    "check_listed_twice": ("basic", 7, "checks[1]", "'all_nodes_running' is listed twice"),
    "checks_is_string": ("basic", 7, "checks", "must be a list of strings"),
    "cluster_size_is_string": ("basic", None, "parameters.cluster_size", "whole number, got \"3\""),
    "cluster_size_zero": ("basic", None, "parameters.cluster_size", "must be >= 1, got 0"),
    "crash_method_graceful": ("basic", 4, "method", "one of ssh, destroy, got \"graceful\""),
    "custom_command_empty": ("basic", 8, "custom_command", "non-empty list of strings"),
    "custom_command_empty_program": ("basic", 8, "custom_command[0]", "the program to run is empty"),
    "custom_command_is_string": ("basic", 8, "custom_command", "got \"./scripts/verify.sh --check\""),
    "custom_command_missing_argv": ("basic", 8, "custom_command", "missing (required for custom_command)"),
    "custom_command_number_argument": ("basic", 8, "custom_command[1]", "must be a string, got 3"),
    "custom_command_zero_timeout": ("basic", 8, "timeout_seconds", "must be > 0, got 0"),
    "document_is_array": (None, None, None, "the document must be a JSON object"),
    "duplicate_key_in_step": ("basic", 4, "target_node", "appears more than once in a step"),
    "duplicate_suite_name": ("basic", None, None, "defined more than once in 'test_suites'"),
    "json_empty_file": (None, None, None, "invalid JSON at line 1, column 1: Expecting value"),
    "json_missing_comma": (None, None, None, "invalid JSON at line 5, column 7: Expecting ','"),
    "json_single_quotes": (None, None, None, "invalid JSON at line 5, column 20"),
    "json_trailing_comma": (None, None, None, "invalid JSON at line 37, column 9"),
    "json_unterminated_string": (None, None, None, "invalid JSON at line 17, column 37"),
    "libvirt_cannot_crash_destroy": ("basic", 4, "method", "'libvirt' cannot crash_node:destroy; use method \"ssh\""),
    "libvirt_cannot_restart_graceful": ("basic", 4, "method", "'libvirt' cannot restart_node:graceful"),
    "libvirt_cannot_stop_node": ("basic", 4, "step", "'libvirt' cannot stop_node"),
    "missing_test_suites": (None, None, "test_suites", "missing"),
    "no_suites": (None, None, "test_suites", "no suites defined"),
    "node_status_unknown_node": ("basic", 5, "checks[1]", "unknown node 'n14' (nodes: n11, n12, n13)"),
    "node_status_unknown_state": ("basic", 5, "checks[1]", "unknown state 'crashed'"),
    "node_status_without_node": ("basic", 5, "checks[0]", "names no node"),
    "nodes_disagree_with_cluster_size": ("basic", None, "parameters.nodes", "lists 4 nodes but cluster_size is 3"),
    "nodes_repeated": ("basic", None, "parameters.nodes", "'n12' is listed more than once"),
    "not_utf8": (None, None, None, "not UTF-8 text"),
    "parameters_is_list": ("basic", None, "parameters", "must be a JSON object, got [3]"),
    "provider_is_number": ("basic", None, "provider", "must be a non-empty string, got 3"),
    "requirements_libvirt_is_string": ("basic", None, "requirements.libvirt_available", "true or false"),
    "requirements_memory_negative": ("basic", None, "requirements.min_memory_gb", "must be >= 0, got -1"),
    "requirements_unknown_key": ("basic", None, "requirements.min_cpus", "unknown requirement"),
    "restart_method_unknown": ("basic", 4, "method", "one of ssh, graceful, got \"hard\""),
    "retry_attempts_is_bool": ("basic", 3, "retry.max_attempts", "whole number, got true"),
    "retry_delay_nan": ("basic", 3, "retry.delay_seconds", "finite number, got NaN"),
    "retry_is_number": ("basic", 3, "retry", "must be a JSON object, got 5"),
    "retry_negative_delay": ("basic", 3, "retry.delay_seconds", "must be >= 0, got -5"),
    "retry_on_stop_node": ("basic", 4, "retry", "unknown field for stop_node"),
    "retry_unknown_field": ("basic", 3, "retry.backoff", "unknown field"),
    "retry_without_max_attempts": ("basic", 3, "retry.max_attempts", "missing"),
    "retry_zero_attempts": ("basic", 3, "retry.max_attempts", "must be >= 1, got 0"),
    "step_description_is_list": ("basic", 2, "description", "must be a string"),
    "step_is_string": ("basic", 1, None, "a step must be a JSON object, got \"init\""),
    "step_type_is_number": ("basic", 1, "step", "must be a step type name, got 5"),
    "step_without_type": ("basic", 1, "step", "missing"),
    "stop_node_with_method": ("basic", 4, "method", "unknown field for stop_node"),
    "stop_node_without_target": ("basic", 4, "target_node", "missing (required for stop_node)"),
    "suite_description_is_number": ("basic", None, "description", "must be a string, got 42"),
    "suite_field_typo": ("basic", None, "workflows", "did you mean 'workflow'?"),
    "suite_is_string": ("basic", None, None, "a suite must be a JSON object"),
    "suite_missing_provider": ("basic", None, "provider", "missing (required for a suite)"),
    "suite_missing_test_type": ("basic", None, "test_type", "missing (required for a suite)"),
    "suite_missing_workflow": ("basic", None, "workflow", "missing (required for a suite)"),
    "suite_name_with_slash": ("basic/one", None, None, "suite names are letters, digits"),
    "target_node_is_number": ("basic", 6, "target_node", "must be a node name, got 12"),
    "target_node_unknown": ("basic", 4, "target_node", "unknown node 'n19' (nodes: n11, n12, n13)"),
    "test_suites_is_list": (None, None, "test_suites", "must be a JSON object"),
    "unknown_check": ("basic", 3, "checks[0]", "unknown check 'cluster_stats' (did you mean 'cluster_status'?)"),
    "unknown_provider": ("basic", None, "provider", "unknown provider 'vmware'"),
    "unknown_step_type": ("basic", 4, "step", "unknown step type 'reboot_node', did you mean 'restart_node'?"),
    "unknown_top_level_field": (None, None, "version", "unknown top-level field"),
    "validate_empty_checks": ("basic", 7, "checks", "must list at least one check"),
    "validate_without_checks": ("basic", 7, "checks", "missing (required for validate)"),
    "workflow_empty": ("basic", None, "workflow", "must be a non-empty list of steps"),
    "wrong_test_type": ("basic", None, "test_type", "must be \"workflow\", got \"performance\""),
}

STEP_TYPES_AT = {  # what the location shows after "step N" when the step's type is known
    ("basic", 2): "deploy", ("basic", 3): "validate", ("basic", 5): "validate",
    ("basic", 6): "start_node", ("basic", 7): "validate", ("basic", 8): "custom_command",
}


def corpus_files():
    return sorted(CORPUS.glob("*.json"))


def load_error(path: Path) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        load_workflow_file(path, ValidationRegistry(), fake_capabilities)
    return caught.value


def test_the_corpus_has_at_least_30_files_each_with_an_expectation():
    stems = {path.stem for path in corpus_files()}
    assert len(stems) >= 30
    assert stems == set(EXPECTED), "every corpus file needs an entry in EXPECTED, and back"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_reports_one_line_naming_file_suite_step_and_field(name):
    path = CORPUS / f"{name}.json"
    suite, step, field, fragment = EXPECTED[name]
    error = load_error(path)
    line = str(error)
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    assert (error.suite, error.step, error.field) == (suite, step, field)
    if suite is not None:
        assert f"suite '{suite}'" in line
    if step is not None:
        assert f"step {step}" in line
    if field is not None:
        assert f"field '{field}': " in line
    assert fragment in error.reason


def test_the_location_shows_the_step_type_once_it_is_known():
    error = load_error(CORPUS / "target_node_unknown.json")
    assert str(error) == (f"{CORPUS / 'target_node_unknown.json'}: suite 'basic', step 4 (stop_node): "
                          "field 'target_node': unknown node 'n19' (nodes: n11, n12, n13)")
    for name, (suite, step, _, _) in EXPECTED.items():
        if (suite, step) in STEP_TYPES_AT and name not in ("step_is_string",):
            assert f"step {step} ({STEP_TYPES_AT[(suite, step)]})" in str(load_error(CORPUS / f"{name}.json"))


def test_every_file_yields_a_distinct_error():
    reasons = {}
    for path in corpus_files():
        error = load_error(path)
        reasons.setdefault(str(error)[len(str(path)):], []).append(path.name)
    repeated = {reason: names for reason, names in reasons.items() if len(names) > 1}
    assert not repeated


@pytest.mark.parametrize("command", ["run", "validate", "list"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_prints_the_error_and_exits_2_with_nothing_started(name, command, tmp_path, capsys):
    path = CORPUS / f"{name}.json"
    cluster = FakeCluster(clock=VirtualClock(start=0))
    argv = {"run": ["run", str(path), "--suite", "basic", "--reports", str(tmp_path)],
            "validate": ["validate", str(path)], "list": ["list", str(path)]}[command]
    status = main(argv, capabilities=fake_capabilities, registry=ValidationRegistry(),
                  environment_factory=cluster.environment, machine=MachineFacts(True, 64),
                  clock=cluster.clock)
    out, err = capsys.readouterr()
    assert status == 2
    assert err == f"{load_error(path)}\n"
    assert out == ""
    assert cluster.calls == [] and cluster.probes == []
    assert list(tmp_path.iterdir()) == []
