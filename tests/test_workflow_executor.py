"""gauntlet.workflow.executor and cli: the documented example workflows against an in-memory
etcd-like cluster (3 nodes, quorum 2), the result JSON, failure handling, custom commands."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from gauntlet.checks.registry import ValidationRegistry
from gauntlet.clock import VirtualClock
from gauntlet.workflow import executor as executor_module
from gauntlet.workflow.cli import main
from gauntlet.workflow.executor import (
    EARLIER_FAILURE,
    MachineFacts,
    StepOutcome,
    WorkflowExecutor,
    skip_reason,
)
from gauntlet.workflow.fakes import FakeCluster, fake_capabilities
from gauntlet.workflow.loader import load_workflow_file
from gauntlet.workflow.schema import Field, Requirements, StepSchema, StepTypes, parse_document

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "workflows"
BIG_MACHINE = MachineFacts(libvirt_available=False, memory_gb=64)
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.fixture
def clock():
    return VirtualClock(start=START)


@pytest.fixture
def cluster(clock):
    """Members become healthy 10 s (virtual) after they start."""
    return FakeCluster(clock=clock, boot_seconds=10)


@pytest.fixture
def instant(clock):
    """Members are healthy as soon as they start."""
    return FakeCluster(clock=clock)


def fixture_suite(name):
    workflow = load_workflow_file(FIXTURES / f"{name}.json", ValidationRegistry(), fake_capabilities)
    return next(iter(workflow.suites.values()))


def suite_of(*steps, step_types=None, registry=None, directory=None, **overrides):
    raw = {"provider": "local", "test_type": "workflow", "description": "t",
           "parameters": {"cluster_size": 3}, "workflow": list(steps)}
    raw.update(overrides)
    source = (directory / "suite.json") if directory else None
    parsed = parse_document({"test_suites": {"t": raw}}, "t.json", registry or ValidationRegistry(),
                            fake_capabilities, step_types or StepTypes(), source=source)
    return parsed.suites["t"]


def executor_for(cluster, tmp_path=None, **kwargs):
    kwargs.setdefault("machine", BIG_MACHINE)
    kwargs.setdefault("registry", ValidationRegistry())
    return WorkflowExecutor(cluster.deployment, cluster.context(tmp_path), clock=cluster.clock,
                            reports_dir=tmp_path, **kwargs)


def statuses(result):
    return [step.status for step in result.workflow_steps]


def actions(cluster):
    return [call for call in cluster.calls if not call.startswith("put ")]


# --- the three documented examples ------------------------------------------------------------

def test_basic_start_stop(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(fixture_suite("failsafety_basic"))
    assert result.success
    assert statuses(result) == ["completed"] * 7
    assert actions(cluster) == ["init", "deploy", "stop_cluster", "start_cluster", "teardown"]
    checks = [[entry["check"] for entry in step.validation_results]
              for step in result.workflow_steps]
    assert checks[2] == checks[6] == ["cluster_status", "database_running"]
    assert checks[4] == ["cluster_status_stopped"]
    # members boot in 10 s: the post-deploy validation needed attempts at 0, 0.5, ..., 10 s
    assert result.workflow_steps[2].validation_results[0]["attempts"] == 21
    assert result.workflow_steps[2].duration == 10


def test_single_node_failure(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(fixture_suite("single_node_failure"))
    assert result.success, result.to_json()
    assert actions(cluster) == ["init", "deploy", "stop_node n12", "start_node n12", "teardown"]
    degraded = result.workflow_steps[4]
    assert [entry["check"] for entry in degraded.validation_results] == [
        "cluster_degraded", "node_status:n11:running", "node_status:n12:stopped",
        "node_status:n13:running"]
    assert all(entry["passed"] for entry in degraded.validation_results)


def test_crash_recovery(clock, tmp_path):
    cluster = FakeCluster(clock=clock, boot_seconds=45)
    result = executor_for(cluster, tmp_path).run(fixture_suite("crash_recovery"))
    assert result.success, result.to_json()
    assert actions(cluster) == ["init", "deploy", "crash_node:destroy n11",
                                "crash_node:destroy n12", "start_node n11", "start_node n12",
                                "teardown"]
    critical = result.workflow_steps[4]
    assert critical.validation_results == [
        {"check": "cluster_critical", "passed": True, "attempts": 1},
        {"check": "database_down", "passed": True, "attempts": 1}]
    recovered = result.workflow_steps[7]
    assert recovered.validation_results == [{"check": "cluster_status", "passed": True,
                                             "attempts": 3}]
    assert recovered.duration == 60  # attempts at 0, 30 and 60 s of virtual time
    assert result.duration == 60


def test_crash_recovery_fails_when_the_cluster_does_not_heal_in_five_attempts(clock, tmp_path):
    cluster = FakeCluster(clock=clock, boot_seconds=600)
    result = executor_for(cluster, tmp_path).run(fixture_suite("crash_recovery"))
    assert not result.success
    last = result.workflow_steps[7]
    assert last.status == "failed"
    assert last.validation_results == [{"check": "cluster_status", "passed": False, "attempts": 5}]
    assert last.error == "checks failed: cluster_status (5 attempts)"
    assert last.duration == 120


def test_custom_command_fixture_runs_its_script_in_the_suite_folder(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(fixture_suite("custom_command"))
    assert result.success, result.to_json()
    command = result.workflow_steps[3].to_json()
    assert command["exit_code"] == 0
    assert "deploy dir present, nodes n11,n12,n13" in command["output_tail"]
    assert "restart_node:ssh n13" in cluster.calls
    assert all(entry["passed"] for entry in result.workflow_steps[5].validation_results)


# --- the result JSON --------------------------------------------------------------------------

def test_the_result_json_has_the_documented_shape_and_is_written_atomically(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(fixture_suite("failsafety_basic"))
    assert result.deployment_id == "local-workflow-failsafety_basic-20231114T221320Z"
    path = tmp_path / "workflows" / f"{result.deployment_id}.json"
    assert result.path == path
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left
    document = json.loads(path.read_text())
    assert document == result.to_json()
    assert set(document) == {"deployment_id", "success", "duration", "workflow_steps"}
    assert document["success"] is True and isinstance(document["duration"], float)
    first = document["workflow_steps"][0]
    assert first == {"step_type": "init", "description": "Initialize", "status": "completed",
                     "duration": 0.0, "error": None, "validation_results": []}
    validate = document["workflow_steps"][2]
    assert set(validate) == {"step_type", "description", "status", "duration", "error",
                             "validation_results"}
    assert validate["validation_results"][1] == {"check": "database_running", "passed": True,
                                                 "attempts": 1}


def test_without_a_reports_dir_nothing_is_written(cluster, tmp_path):
    executor = WorkflowExecutor(cluster.deployment, cluster.context(), clock=cluster.clock,
                                machine=BIG_MACHINE, registry=ValidationRegistry())
    result = executor.run(fixture_suite("single_node_failure"), deployment_id="fixed")
    assert result.path is None and result.deployment_id == "fixed"


# --- failure handling -------------------------------------------------------------------------

def test_a_failed_step_skips_the_rest_and_the_deployment_is_torn_down(instant, tmp_path):
    cluster = instant
    suite = suite_of({"step": "init"}, {"step": "deploy"},
                     {"step": "stop_node", "target_node": "n12"},
                     {"step": "validate", "checks": ["all_nodes_running", "cluster_degraded"]},
                     {"step": "start_node", "target_node": "n12"},
                     {"step": "validate", "checks": ["all_nodes_running"]})
    result = executor_for(cluster, tmp_path).run(suite)
    assert not result.success
    assert statuses(result) == ["completed", "completed", "completed", "failed", "skipped",
                                "skipped"]
    failed = result.workflow_steps[3]
    assert failed.error == "checks failed: all_nodes_running (1 attempt)"
    assert failed.validation_results[0] == {"check": "all_nodes_running", "passed": False,
                                            "attempts": 1}
    skipped = result.workflow_steps[4].to_json()
    assert skipped["skipped_reason"] == EARLIER_FAILURE and skipped["error"] is None
    assert actions(cluster) == ["init", "deploy", "stop_node n12", "teardown"]
    assert json.loads(result.path.read_text())["success"] is False


def test_allowed_failures_are_recorded_but_do_not_fail_the_step(instant, tmp_path):
    cluster = instant
    suite = suite_of({"step": "init"}, {"step": "deploy"},
                     {"step": "validate", "checks": ["cluster_status", "cluster_degraded"],
                      "allow_failures": ["cluster_degraded", "database_down"],
                      "retry": {"max_attempts": 5, "delay_seconds": 30}})
    result = executor_for(cluster, tmp_path).run(suite)
    assert result.success
    assert result.workflow_steps[2].validation_results == [
        {"check": "cluster_status", "passed": True, "attempts": 1},
        {"check": "cluster_degraded", "passed": False, "attempts": 5, "allowed": True},
        {"check": "database_down", "passed": False, "attempts": 5, "allowed": True}]


def test_a_check_registered_with_allow_failure_does_not_fail_the_step(cluster, tmp_path):
    registry = ValidationRegistry()
    registry.register("optional_check", "never holds", lambda ctx: False, allow_failure=True)
    suite = suite_of({"step": "validate", "checks": ["optional_check"]}, registry=registry)
    result = executor_for(cluster, tmp_path, registry=registry).run(suite)
    assert result.success
    assert result.workflow_steps[0].validation_results[0]["allowed"] is True


def test_not_implemented_from_the_power_adapter_fails_the_step_with_its_message(clock, tmp_path):
    cluster = FakeCluster(clock=clock, provider="local",
                          operations={"stop_cluster", "start_cluster", "restart_node:ssh"})
    suite = suite_of({"step": "init"}, {"step": "deploy"},
                     {"step": "stop_node", "target_node": "n12"},
                     {"step": "validate", "checks": ["cluster_status"]})
    result = executor_for(cluster, tmp_path).run(suite)
    step = result.workflow_steps[2]
    assert step.status == "failed"
    assert step.error.startswith("local: stop_node is not supported by this provider's API")
    assert 'method: "ssh"' in step.error
    assert statuses(result)[3] == "skipped"


def test_a_raising_deployment_fails_its_step_and_teardown_still_runs(cluster, tmp_path):
    cluster.deployment.fail["deploy"] = RuntimeError("etcd did not start\non n12")
    result = executor_for(cluster, tmp_path).run(fixture_suite("failsafety_basic"))
    assert statuses(result)[:3] == ["completed", "failed", "skipped"]
    assert result.workflow_steps[1].error == "RuntimeError: etcd did not start on n12"
    assert cluster.calls == ["init", "deploy", "teardown"]


def test_a_teardown_failure_is_reported_and_fails_the_run(cluster, tmp_path):
    cluster.deployment.fail["teardown"] = OSError("port still bound")
    result = executor_for(cluster, tmp_path).run(fixture_suite("failsafety_basic"))
    assert set(statuses(result)) == {"completed"}
    assert not result.success
    assert result.to_json()["teardown_error"] == "OSError: port still bound"


def test_keep_on_failure_leaves_the_deployment_for_inspection(cluster, tmp_path):
    suite = suite_of({"step": "init"}, {"step": "deploy"},
                     {"step": "validate", "checks": ["vms_powered_off"]})
    executor_for(cluster, tmp_path, keep_on_failure=True).run(suite)
    assert "teardown" not in cluster.calls


def test_a_workflow_without_init_or_deploy_does_not_tear_down(cluster, tmp_path):
    cluster.deployment.deploy()
    cluster.calls.clear()
    executor_for(cluster, tmp_path).run(suite_of({"step": "restart_node", "target_node": "n11"}))
    assert cluster.calls == ["restart_node:ssh n11"]


# --- requirements -----------------------------------------------------------------------------

def test_unmet_requirements_skip_the_suite_with_a_reason_and_touch_nothing(cluster, tmp_path):
    suite = suite_of({"step": "init"}, {"step": "deploy"},
                     requirements={"libvirt_available": True, "min_memory_gb": 32})
    result = executor_for(cluster, tmp_path, machine=MachineFacts(False, 8.0)).run(suite)
    assert cluster.calls == [] and cluster.probes == []
    document = json.loads(result.path.read_text())
    assert document["success"] is False
    assert "requires libvirt" in document["skipped_reason"]
    assert "requires 32 GB of memory (requirements.min_memory_gb) but this machine has 8.0 GB" \
        in document["skipped_reason"]
    assert [step["status"] for step in document["workflow_steps"]] == ["skipped", "skipped"]
    assert document["workflow_steps"][0]["skipped_reason"] == document["skipped_reason"]


@pytest.mark.parametrize("requirements,machine,skipped", [
    (Requirements(False, 0), MachineFacts(False, 1), False),
    (Requirements(True, 0), MachineFacts(True, 1), False),
    (Requirements(True, 0), MachineFacts(False, 1), True),
    (Requirements(False, 16), MachineFacts(True, 15.5), True),
    (Requirements(False, 16), MachineFacts(False, 16), False),
])
def test_skip_reason(requirements, machine, skipped):
    assert (skip_reason(requirements, machine) is not None) is skipped


# --- custom commands --------------------------------------------------------------------------

def command_suite(tmp_path, argv, timeout=None):
    step = {"step": "custom_command", "custom_command": argv}
    if timeout:
        step["timeout_seconds"] = timeout
    return suite_of(step, {"step": "validate", "checks": ["cluster_status_stopped"]},
                    directory=tmp_path)


def python(code):
    return [sys.executable, "-c", code]


def test_custom_command_exit_zero_completes_with_its_output(cluster, tmp_path):
    code = "import os; print(os.getcwd()); print(os.environ['GAUNTLET_NODES'])"
    result = executor_for(cluster, tmp_path).run(command_suite(tmp_path, python(code)))
    step = result.workflow_steps[0].to_json()
    assert step["status"] == "completed" and step["exit_code"] == 0
    assert step["output_tail"] == f"{tmp_path}\nn11,n12,n13\n"
    assert statuses(result) == ["completed", "completed"]


def test_custom_command_non_zero_exit_fails_the_step(cluster, tmp_path):
    code = "import sys; print('checked 10 keys'); print('key 7 corrupt', file=sys.stderr); sys.exit(3)"
    result = executor_for(cluster, tmp_path).run(command_suite(tmp_path, python(code)))
    step = result.workflow_steps[0].to_json()
    assert step["status"] == "failed"
    assert step["error"] == "exit code 3: key 7 corrupt"
    assert step["exit_code"] == 3 and "checked 10 keys" in step["output_tail"]
    assert statuses(result) == ["failed", "skipped"]


def test_custom_command_output_tail_is_bounded(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(
        command_suite(tmp_path, python("print('x' * 100000)")))
    assert len(result.workflow_steps[0].details["output_tail"]) == executor_module.OUTPUT_TAIL_CHARS


def test_custom_command_runs_without_a_shell_relative_to_the_suite_folder(cluster, tmp_path):
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\necho \"args: $*\"\n")
    script.chmod(0o755)
    result = executor_for(cluster, tmp_path).run(
        command_suite(tmp_path, ["./check.sh", "$HOME", "a;b"]))
    assert result.workflow_steps[0].details["output_tail"] == "args: $HOME a;b\n"


def test_custom_command_not_found_fails_the_step(cluster, tmp_path):
    result = executor_for(cluster, tmp_path).run(command_suite(tmp_path, ["./missing.sh"]))
    assert result.workflow_steps[0].error == f"command not found: ./missing.sh (run in {tmp_path})"


def test_custom_command_timeout_kills_it_and_fails_the_step(cluster, tmp_path):
    code = "import time, sys; print('started', flush=True); time.sleep(30)"
    result = executor_for(cluster, tmp_path).run(command_suite(tmp_path, python(code), timeout=0.5))
    step = result.workflow_steps[0].to_json()
    assert step["status"] == "failed" and step["error"].startswith("timed out after 0.5s")
    assert step["exit_code"] is None and step["output_tail"] == "started\n"


# --- custom step types ------------------------------------------------------------------------

def test_a_registered_step_type_is_validated_and_run(cluster, tmp_path):
    types = StepTypes()
    seen = []

    def pause_node(run, step):
        seen.append(step.params["node"])
        run.power.pause_node(step.params["node"])

    def fail_softly(run, step):
        return StepOutcome(error="not today", details={"why": "testing"})

    executor_module.register_step("pause_node", pause_node,
                                  StepSchema(fields={"node": Field("node", required=True)}),
                                  step_types=types)
    executor = executor_for(cluster, tmp_path, step_types=types)
    executor.register_step("fail_softly", fail_softly)
    suite = suite_of({"step": "init"}, {"step": "deploy"}, {"step": "pause_node", "node": "n13"},
                     {"step": "validate", "checks": ["node_status:n13:paused"]},
                     {"step": "fail_softly"}, step_types=types)
    result = executor.run(suite)
    assert seen == ["n13"]
    assert statuses(result) == ["completed", "completed", "completed", "completed", "failed"]
    assert result.workflow_steps[4].to_json()["why"] == "testing"
    assert "pause_node" not in executor_module.STEP_TYPES.names()


# --- the CLI ----------------------------------------------------------------------------------

def cli(argv, cluster, **kwargs):
    kwargs.setdefault("machine", BIG_MACHINE)
    return main(argv, capabilities=fake_capabilities, registry=ValidationRegistry(),
                environment_factory=cluster.environment, clock=cluster.clock, **kwargs)


def test_cli_validate_and_list(cluster, capsys):
    files = [str(FIXTURES / f"{name}.json") for name in
             ("failsafety_basic", "single_node_failure", "crash_recovery", "custom_command")]
    assert cli(["validate", *files], cluster) == 0
    assert capsys.readouterr().out == "ok: 4 suites, 28 steps\n"
    assert cli(["list", files[0], files[2]], cluster) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"failsafety_basic +local +7 steps +Basic start/stop", lines[0])
    assert re.match(r"crash_recovery +local +8 steps +Crash recovery", lines[1])
    assert cluster.calls == [] and cluster.probes == []


def test_cli_run_prints_each_step_and_writes_the_result(cluster, tmp_path, capsys):
    status = cli(["run", str(FIXTURES / "crash_recovery.json"), "--suite", "crash_recovery",
                  "--reports", str(tmp_path)], cluster)
    out = capsys.readouterr().out
    assert status == 0
    assert "[5/8] completed validate       Validate cluster_critical" in out
    path = tmp_path / "workflows" / "local-workflow-crash_recovery-20231114T221320Z.json"
    assert f"passed: suite 'crash_recovery' in 30.0s (result: {path})" in out
    assert json.loads(path.read_text())["success"] is True
    assert (tmp_path / "workflows" / "local-workflow-crash_recovery-20231114T221320Z").is_dir()


def test_cli_run_exits_1_when_a_step_fails(clock, tmp_path, capsys):
    cluster = FakeCluster(clock=clock, boot_seconds=600)
    status = cli(["run", str(FIXTURES / "crash_recovery.json"), "--suite", "crash_recovery",
                  "--reports", str(tmp_path)], cluster)
    out = capsys.readouterr().out
    assert status == 1
    assert "error: checks failed: cluster_status (5 attempts)" in out
    assert "failed: suite 'crash_recovery'" in out


def test_cli_run_skips_on_unmet_requirements(cluster, tmp_path, capsys):
    status = cli(["run", str(FIXTURES / "failsafety_basic.json"), "--suite", "failsafety_basic",
                  "--reports", str(tmp_path)], cluster, machine=MachineFacts(False, 0.5))
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("skipped: suite 'failsafety_basic': requires 1 GB of memory")
    assert cluster.calls == [] and cluster.probes == []
    written = list((tmp_path / "workflows").glob("*.json"))
    assert len(written) == 1 and json.loads(written[0].read_text())["skipped_reason"]


def test_cli_run_unknown_suite_exits_2(cluster, tmp_path, capsys):
    path = FIXTURES / "failsafety_basic.json"
    assert cli(["run", str(path), "--suite", "nope", "--reports", str(tmp_path)], cluster) == 2
    err = capsys.readouterr().err
    assert err == f"{path.resolve()}: field '--suite': unknown suite 'nope' (suites: failsafety_basic)\n"
    assert cluster.calls == [] and list(tmp_path.iterdir()) == []


def test_cli_run_without_an_environment_for_the_provider_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("gauntlet.workflow.cli.ENVIRONMENT_FACTORIES",
                        {"local": "gauntlet.no_such_module:workflow_environment"})
    status = main(["run", str(FIXTURES / "failsafety_basic.json"), "--suite", "failsafety_basic",
                   "--reports", str(tmp_path)], capabilities=fake_capabilities,
                  registry=ValidationRegistry(), machine=BIG_MACHINE, clock=VirtualClock(START))
    err = capsys.readouterr().err
    assert status == 2
    assert "field 'provider': the workflow environment gauntlet.no_such_module" in err
    assert len(err.splitlines()) == 1


def test_cli_without_the_capability_matrix_exits_2(capsys, monkeypatch):
    monkeypatch.setattr("gauntlet.workflow.loader.CAPABILITIES_FUNCTION",
                        "gauntlet.no_such_module:capabilities")
    assert main(["validate", str(FIXTURES / "failsafety_basic.json")]) == 2
    assert "cannot check provider operations" in capsys.readouterr().err


def test_cli_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", str(FIXTURES / "failsafety_basic.json")], capabilities=fake_capabilities)
    assert exited.value.code == 2
    assert "--suite" in capsys.readouterr().err
