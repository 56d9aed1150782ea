"""The Step Functions definition: structure, moto's acceptance, and that its flow drives the engine
to the end through ``lambda_handler`` (interpreted here: Lambda tasks need Docker under moto)."""

import copy
import json
import uuid
from pathlib import Path

import boto3
import pytest

from gauntlet.clock import VirtualClock
from gauntlet.local.endpoint import LoopbackEndpoint
from gauntlet.sut.drs_engine import ExecutionEngine
from gauntlet.sut.drs_engine import handler as handler_module
from gauntlet.sut.drs_engine.plan import load_json
from gauntlet.sut.drs_engine.state_machine import DEFINITION_FILE, definition
from gauntlet.sut.drs_engine.stubs import DrsScript, job_id

RETRY = [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                          "Lambda.TooManyRequestsException", "States.TaskFailed"],
          "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}]
PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "drs" / "plans"
GROUPS = load_json(PLANS / "protection_groups.json")
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:drs-engine"
ASL = json.loads(DEFINITION_FILE.read_text())


def targets(state):
    found = [state.get("Next"), state.get("Default")]
    found += [choice.get("Next") for choice in state.get("Choices", [])]
    found += [catch.get("Next") for catch in state.get("Catch", [])]
    return [name for name in found if name]


def test_definition_is_json_with_a_timeout():
    assert ASL["StartAt"] == "StartExecution" and ASL["TimeoutSeconds"] > 0


def test_every_task_retries_lambda_errors_and_catches_to_a_failure_path():
    tasks = {name: s for name, s in ASL["States"].items() if s["Type"] == "Task"}
    assert {"StartExecution", "StartNextWave", "MonitorWave", "CheckHealth", "RecordFailure"} <= set(tasks)
    for name, task in tasks.items():
        assert task["Retry"] == RETRY, name
        assert [c["ErrorEquals"] for c in task["Catch"]] == [["States.ALL"]], name
        assert ASL["States"][task["Catch"][0]["Next"]]["Type"] in ("Task", "Fail"), name
        assert task["TimeoutSeconds"] > 0


def test_every_transition_points_at_an_existing_state_and_every_state_is_reachable():
    states = ASL["States"]
    for name, state in states.items():
        for target in targets(state):
            assert target in states, f"{name} -> {target}"
    seen, todo = set(), [ASL["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(targets(states[name]))
    assert seen == set(states)
    assert {s["Type"] for s in states.values()} >= {"Task", "Choice", "Wait", "Succeed", "Fail"}
    assert all("SecondsPath" in s for s in states.values() if s["Type"] == "Wait")


@pytest.fixture(scope="module")
def aws():
    with pytest.MonkeyPatch.context() as env:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"}.items():
            env.setenv(key, value)
        env.delenv("AWS_PROFILE", raising=False)
        endpoint = LoopbackEndpoint(services={}).start()
        env.setenv("AWS_ENDPOINT_URL", endpoint.url)
        try:
            yield endpoint
        finally:
            endpoint.stop()


def test_moto_step_functions_accepts_the_definition(aws):
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"drs-engine-{uuid.uuid4().hex[:6]}", definition=definition(FUNCTION),
                                   roleArn="arn:aws:iam::123456789012:role/drs-engine-sfn")["stateMachineArn"]
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert stored["States"]["StartNextWave"]["Parameters"]["FunctionName"] == FUNCTION
    sfn.delete_state_machine(stateMachineArn=arn)


# -- the flow, interpreted ---------------------------------------------------------------------

def path_get(data, path, context):
    root, _, rest = (context, None, path[3:]) if path.startswith("$$.") else (data, None, path[2:])
    value = root
    for part in filter(None, rest.split(".")):
        value = value[part]
    return value


def resolve(template, data, context):
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k):
                (path_get(data, v, context) if k.endswith(".$") else resolve(v, data, context))
                for k, v in template.items()}
    return template


def path_set(data, path, value):
    data = copy.deepcopy(data)
    parts = path[2:].split(".")
    target = data
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return data


def interpret(asl, payload, invoke, clock, name="sfn-execution-1", limit=200):
    """Run the subset of ASL the definition uses: Task (lambda:invoke), Choice, Wait, Succeed, Fail."""
    context = {"Execution": {"Name": name}}
    data, state_name, visited = payload, asl["StartAt"], []
    for _ in range(limit):
        visited.append(state_name)
        state = asl["States"][state_name]
        kind = state["Type"]
        if kind in ("Succeed", "Fail"):
            return kind, data, visited
        if kind == "Task":
            params = resolve(state["Parameters"], data, context)
            try:
                result = {"Payload": invoke(params["Payload"])}
            except Exception as error:  # noqa: BLE001 - any task error takes the Catch route
                data = path_set(data, state["Catch"][0]["ResultPath"],
                                {"Error": type(error).__name__, "Cause": str(error)})
                state_name = state["Catch"][0]["Next"]
                continue
            data = path_set(data, state["ResultPath"], resolve(state["ResultSelector"], result, context))
            state_name = state["Next"]
        elif kind == "Wait":
            clock.sleep(path_get(data, state["SecondsPath"], context))
            state_name = state["Next"]
        elif kind == "Choice":
            state_name = state["Default"]
            for choice in state["Choices"]:
                value = path_get(data, choice["Variable"], context)
                expected = choice.get("BooleanEquals", choice.get("StringEquals"))
                if value == expected:
                    state_name = choice["Next"]
                    break
    raise AssertionError(f"no end after {limit} states: {visited[-10:]}")


@pytest.fixture
def engine(aws, monkeypatch):
    clock = VirtualClock()
    engine = ExecutionEngine(history_table=f"drs-sfn-{uuid.uuid4().hex[:6]}", clock=clock)
    engine.ensure_history_table()
    monkeypatch.setattr(handler_module, "_engine", engine)
    yield engine
    engine.store.drop_table()


def test_state_machine_flow_drives_a_multi_wave_plan_to_completion(engine):
    plan = load_json(PLANS / "multi_wave_dependencies.json")
    for wave in plan["Waves"]:
        wave["HealthCheck"]["Enabled"] = False
    servers = [g["SourceServerIds"] for g in GROUPS["ProtectionGroups"]]
    with DrsScript(engine.accounts.home().client("drs")) as script:
        for number, ids in enumerate(servers, start=1):
            script.source_servers(ids).start_recovery(ids, job_id(number))
            script.job_runs(job_id(number), ids, {sid: f"i-{number}{i:016x}" for i, sid in enumerate(ids)})
        outcome, data, visited = interpret(ASL, {"Plan": plan, "ProtectionGroups": GROUPS},
                                           handler_module.lambda_handler, engine.clock)
    assert outcome == "Succeed" and visited[-1] == "ExecutionCompleted"
    assert visited.count("StartNextWave") == 4  # three waves, then the finishing tick
    assert {"WaitForJobs", "MonitorWave", "WaitBetweenWaves", "Finalize"} <= set(visited)
    record = engine.status(data["Execution"]["ExecutionId"])
    assert record["Status"] == "COMPLETED" and record["Duration"] == 3 * 60 + 60 + 30
    # a retried state machine start (same execution name) reuses the execution
    assert handler_module.lambda_handler({"Action": "start", "Plan": plan, "ProtectionGroups": GROUPS,
                                          "IdempotencyKey": "sfn-execution-1"}) == {
        "ExecutionId": record["ExecutionId"]}


def test_a_failing_task_is_recorded_as_a_failed_execution(engine):
    plan = load_json(PLANS / "single_wave.json")
    ids = GROUPS["ProtectionGroups"][0]["SourceServerIds"]
    calls = []

    def invoke(event):
        calls.append(event["Action"])
        if event["Action"] == "step" and calls.count("step") == 2:
            raise RuntimeError("Lambda.ServiceException: simulated")
        return handler_module.lambda_handler(event)

    with DrsScript(engine.accounts.home().client("drs")) as script:
        script.source_servers(ids).start_recovery(ids, job_id(1))
        outcome, data, visited = interpret(ASL, {"Plan": plan, "ProtectionGroups": GROUPS}, invoke,
                                           engine.clock)
    assert (outcome, visited[-2:]) == ("Fail", ["RecordFailure", "ExecutionFailed"])
    record = engine.status(data["Execution"]["ExecutionId"])
    assert record["Status"] == "FAILED"
    assert record["Error"] == "state machine error: RuntimeError: Lambda.ServiceException: simulated"


def test_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown Action"):
        handler_module.lambda_handler({"Action": "explode"})

