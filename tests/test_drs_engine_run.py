"""The engine end to end: DRS scripted with botocore's Stubber; DynamoDB, EC2, SNS, SQS and STS
served by moto on a loopback endpoint; every wait on a VirtualClock."""

import json
import re
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from gauntlet.clock import VirtualClock, set_default_clock
from gauntlet.local import network_guard
from gauntlet.local.endpoint import LoopbackEndpoint
from gauntlet.sut.drs_engine import (
    CrossAccountError,
    ExecutionEngine,
    ExecutionNotFound,
    PlanValidationError,
    RetriesExhausted,
)
from gauntlet.sut.drs_engine.history import parse_time
from gauntlet.sut.drs_engine.plan import load_json
from gauntlet.sut.drs_engine.stubs import DrsScript, FaultInjector, drs_job, job_id

PLANS = Path(__file__).resolve().parents[1] / "fixtures" / "drs" / "plans"
GROUPS = load_json(PLANS / "protection_groups.json")
DB, APP, WEB = (g["SourceServerIds"] for g in GROUPS["ProtectionGroups"])
ROLE = "arn:aws:iam::222222222222:role/DrsOrchestrationCrossAccount"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def plan(name, **changes):
    data = load_json(PLANS / f"{name}.json")
    data.update(changes)
    return data


def simulator_services():
    """The project's DRS simulator if it is importable (only one test talks to it)."""
    try:
        from gauntlet.local.drs import create_app
    except ImportError:
        return {}
    return {"drs": create_app()}


@pytest.fixture(scope="module")
def aws():
    """moto (+ the DRS simulator) on loopback, with the network guard on (R11.4)."""
    guard_was_on = network_guard.installed()
    network_guard.install()
    blocked_before = len(network_guard.blocked_attempts())
    with pytest.MonkeyPatch.context() as env:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}.items():
            env.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            env.delenv(key, raising=False)
        endpoint = LoopbackEndpoint(services=simulator_services()).start()
        env.setenv("AWS_ENDPOINT_URL", endpoint.url)
        try:
            yield endpoint
        finally:
            endpoint.stop()
            if not guard_was_on:
                network_guard.uninstall()
    assert network_guard.blocked_attempts()[blocked_before:] == [], "a call tried to leave 127.0.0.0/8"


@pytest.fixture(scope="module")
def instances(aws):
    """Six running EC2 instances standing in for recovered servers: source id -> instance id."""
    reply = boto3.client("ec2").run_instances(ImageId="ami-12345678", MinCount=6, MaxCount=6)
    return dict(zip(DB + APP + WEB, (i["InstanceId"] for i in reply["Instances"]), strict=True))


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def engine(aws, clock):
    engine = ExecutionEngine(history_table=f"drs-history-{uuid.uuid4().hex[:8]}", clock=clock)
    engine.ensure_history_table()
    yield engine
    engine.store.drop_table()  # no orphaned records (R12.5)


@pytest.fixture
def topic(aws):
    """An SNS topic with an SQS queue subscribed; returns (topic arn, read-messages function)."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    name = f"drs-{uuid.uuid4().hex[:8]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    queue_arn = attributes["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def messages():
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(json.loads(m["Body"])["Message"]) for m in got]
    return topic_arn, messages


def drs(engine, role=None):
    context = engine.accounts.target(role) if role else engine.accounts.home()
    return DrsScript(context.client("drs"))


def recover(script, servers, number, instances, polls=2, **kwargs):
    """Script one PARALLEL wave that succeeds: preflight, one StartRecovery, polls."""
    script.source_servers(servers).start_recovery(servers, job_id(number), **kwargs)
    script.job_runs(job_id(number), servers, {s: instances[s] for s in servers}, polls=polls)


def no_nulls(value, path="record"):
    if isinstance(value, dict):
        for key, item in value.items():
            no_nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            no_nulls(item, f"{path}[{i}]")
    else:
        assert value is not None, path


def wave(record, number):
    return next(w for w in record["Waves"] if w["WaveNumber"] == number)


def seconds(text):
    return parse_time(text)


# -- R1 / R2 / R3 / R5 / R8: the happy paths ---------------------------------------------------

def test_single_parallel_wave_recovers_with_one_start_recovery_call(engine, instances, topic, clock):
    topic_arn, messages = topic
    started = time.monotonic()
    with drs(engine) as script:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave", SnsTopicArn=topic_arn), GROUPS)
    assert time.monotonic() - started < 5
    assert result["Status"] == "COMPLETED" and result["Error"] == ""
    assert result["Duration"] == 60 == clock.now()  # launch, poll at 30 s, done at 60 s
    servers = wave(result, 1)["Servers"]
    assert [s["SourceServerId"] for s in servers] == DB
    assert {s["JobId"] for s in servers} == {job_id(1)}
    assert [s["RecoveryInstanceId"] for s in servers] == [instances[s] for s in DB]
    assert all(s["HealthCheck"] == "PASSED" and s["InstanceState"] == "running" for s in servers)
    no_nulls(result)
    for stamp in (result["StartTime"], result["EndTime"], wave(result, 1)["StartTime"]):
        assert ISO.match(stamp)
    assert result["SourceAccountId"] == result["TargetAccountId"] == "123456789012"
    assert result["Notification"] == "SENT"
    [message] = messages()
    assert {k: message[k] for k in ("ExecutionId", "PlanId", "Status", "Duration", "ServerCount")} == {
        "ExecutionId": result["ExecutionId"], "PlanId": "plan-single-wave", "Status": "COMPLETED",
        "Duration": 60, "ServerCount": 2}


def test_waves_run_in_dependency_order_with_their_pauses(engine, instances):
    with drs(engine) as script:
        for number, servers in enumerate((DB, APP, WEB), start=1):
            recover(script, servers, number, instances)
        result = engine.execute(plan("multi_wave_dependencies"), GROUPS)
    assert result["Status"] == "COMPLETED"
    w1, w2, w3 = (wave(result, n) for n in (1, 2, 3))
    assert seconds(w2["StartTime"]) - seconds(w1["EndTime"]) == 60  # Wave 1 WaitTimeSeconds
    assert seconds(w3["StartTime"]) - seconds(w2["EndTime"]) == 30  # Wave 2 WaitTimeSeconds
    assert result["Duration"] == 3 * 60 + 60 + 30


def test_sequential_wave_launches_one_server_at_a_time_in_execution_order(engine, instances):
    data = plan("sequential")
    data["Waves"][0]["Servers"][0]["ExecutionOrder"] = 3  # APP[1] now goes first
    first, second = APP[1], APP[0]
    with drs(engine) as script:
        script.source_servers([first, second])
        script.start_recovery([first], job_id(1)).job_runs(job_id(1), [first], instances)
        script.start_recovery([second], job_id(2)).job_runs(job_id(2), [second], instances)
        result = engine.execute(data, GROUPS)
    servers = {s["SourceServerId"]: s for s in wave(result, 1)["Servers"]}
    assert result["Status"] == "COMPLETED"
    assert seconds(servers[second]["StartTime"]) >= seconds(servers[first]["EndTime"])
    assert (servers[first]["JobId"], servers[second]["JobId"]) == (job_id(1), job_id(2))


def test_six_servers_in_parallel_well_inside_the_rto(engine, instances):
    every = DB + APP + WEB
    with drs(engine) as script:
        recover(script, every, 1, instances, polls=3)
        result = engine.execute(plan("parallel"), GROUPS)
    assert result["Status"] == "COMPLETED" and result["ServerCount"] == 6
    assert result["Duration"] <= 15 * 60


def test_drill_flag_and_snapshot_ids_reach_start_recovery(engine, instances):
    data = plan("single_wave", IsDrill=False)
    data["Waves"][0]["Servers"][0]["RecoverySnapshotId"] = "pit-0123456789abcdefg"
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1), is_drill=False,
                                                 snapshots={DB[0]: "pit-0123456789abcdefg"})
        script.job_runs(job_id(1), DB, instances, is_drill=False)
        result = engine.execute(data, GROUPS)
    assert result["Status"] == "COMPLETED" and result["IsDrill"] is False


def test_recovery_instance_ids_come_from_describe_recovery_instances_when_the_job_lacks_them(
        engine, instances):
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        script.jobs(drs_job(job_id(1), {s: "LAUNCHED" for s in DB}, "COMPLETED"))
        script.recovery_instances(DB, job_id(1), instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    assert [s["RecoveryInstanceId"] for s in wave(result, 1)["Servers"]] == [instances[s] for s in DB]


# -- R3: health checks -------------------------------------------------------------------------

def ec2_states(*names):
    return {"InstanceStatuses": [{"InstanceId": i, "InstanceState": {"Code": 0, "Name": n}}
                                 for i, n in names]}


def test_pending_instance_polled_every_30_s_then_recovered(engine, instances, clock):
    ec2 = Stubber(engine.accounts.home().client("ec2"))
    ids = [instances[s] for s in DB]
    ec2.add_response("describe_instance_status", ec2_states((ids[0], "pending"), (ids[1], "running")),
                     {"InstanceIds": ids, "IncludeAllInstances": True})
    only_first = {"InstanceIds": ids[:1], "IncludeAllInstances": True}
    ec2.add_response("describe_instance_status", ec2_states((ids[0], "pending")), only_first)
    ec2.add_response("describe_instance_status", ec2_states((ids[0], "running")), only_first)
    with drs(engine) as script, ec2:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    ec2.assert_no_pending_responses()
    assert result["Status"] == "COMPLETED"
    assert clock.now() == 60 + 2 * 30


def test_instance_not_running_after_five_minutes_fails_the_server(engine, instances, clock):
    ids = [instances[s] for s in DB]
    # the first poll asks about both instances; later polls only about the one still pending
    stub = Stubber(engine.accounts.home().client("ec2"))
    stub.add_response("describe_instance_status", ec2_states((ids[0], "pending"), (ids[1], "running")),
                      {"InstanceIds": ids, "IncludeAllInstances": True})
    for _ in range(10):  # at 30, 60, ..., 300 s after the job completed
        stub.add_response("describe_instance_status", ec2_states((ids[0], "pending")),
                          {"InstanceIds": [ids[0]], "IncludeAllInstances": True})
    with drs(engine) as script, stub:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    stub.assert_no_pending_responses()
    failed, ok = wave(result, 1)["Servers"]
    assert failed["Status"] == "FAILED" and ok["Status"] == "COMPLETED"
    assert failed["Error"].startswith(f"instance {ids[0]} not running after 300 s")
    assert result["Status"] == "FAILED" and clock.now() == 60 + 300


def test_disabled_health_check_proceeds_without_asking_ec2(engine, instances, clock):
    data = plan("single_wave")
    data["Waves"][0]["HealthCheck"]["Enabled"] = False
    ec2 = Stubber(engine.accounts.home().client("ec2"))  # no answers: any EC2 call would fail
    with drs(engine) as script, ec2:
        recover(script, DB, 1, instances)
        result = engine.execute(data, GROUPS)
    assert result["Status"] == "COMPLETED" and clock.now() == 60
    assert {s["HealthCheck"] for s in wave(result, 1)["Servers"]} == {"SKIPPED"}


# -- R2.5 / R4: failures ------------------------------------------------------------------------

def test_failed_wave_skips_its_dependents_and_records_the_drs_error(engine, instances, topic):
    topic_arn, messages = topic
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        script.job_runs(job_id(1), DB, instances, failed=[DB[1]])
        script.job_log(job_id(1), {DB[1]: "Insufficient capacity for m5.xlarge in us-east-1a"})
        result = engine.execute(plan("multi_wave_dependencies", SnsTopicArn=topic_arn), GROUPS)
    assert result["Status"] == "FAILED"
    assert [w["Status"] for w in result["Waves"]] == ["FAILED", "SKIPPED", "SKIPPED"]
    bad = wave(result, 1)["Servers"][1]
    assert (bad["SourceServerId"], bad["JobId"], bad["Status"]) == (DB[1], job_id(1), "FAILED")
    assert "LAUNCH_FAILED: Insufficient capacity" in bad["Error"] and job_id(1) in bad["Error"]
    assert wave(result, 2)["Error"] == "skipped: depends on failed wave 1"
    assert "wave 1 (Database) failed" in result["Error"]
    no_nulls(result)
    [message] = messages()
    assert message["Status"] == "FAILED" and "Insufficient capacity" in message["Error"]
    assert {s["SourceServerId"] for s in message["AffectedServers"]} == {DB[1]} | set(APP) | set(WEB)


def test_independent_wave_still_runs_after_another_wave_failed(engine, instances):
    data = plan("multi_wave_dependencies")
    data["Waves"][2]["DependsOn"] = []  # web no longer needs application
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        script.job_runs(job_id(1), DB, instances, failed=DB).job_log(job_id(1), {})
        recover(script, WEB, 3, instances)
        result = engine.execute(data, GROUPS)
    assert [w["Status"] for w in result["Waves"]] == ["FAILED", "SKIPPED", "COMPLETED"]
    assert wave(result, 1)["Servers"][0]["Error"].endswith("launchStatus FAILED")


def test_unknown_source_server_fails_with_its_id(engine, instances):
    with drs(engine) as script:
        script.source_servers(DB, known=[DB[0]]).start_recovery([DB[0]], job_id(1))
        script.job_runs(job_id(1), [DB[0]], instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    missing = wave(result, 1)["Servers"][1]
    assert missing["Status"] == "FAILED"
    assert missing["Error"].startswith(f"source server {DB[1]} not found in DRS")
    assert result["Status"] == "FAILED"


def test_execution_timeout_fails_with_reason(engine, clock):
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        for _ in range(19):  # polls at 30 .. 570 s; at 600 s the execution times out
            script.jobs(drs_job(job_id(1), {s: "IN_PROGRESS" for s in DB}, "STARTED"))
        result = engine.execute(plan("single_wave", ExecutionTimeoutSeconds=600), GROUPS)
    assert result["Status"] == "FAILED" and result["Error"] == "execution timed out after 600 s"
    assert clock.now() == 600 and result["Duration"] == 600
    assert {s["Status"] for s in wave(result, 1)["Servers"]} == {"FAILED"}
    assert {s["JobId"] for s in wave(result, 1)["Servers"]} == {job_id(1)}


def test_cancel_stops_further_waves(engine, instances):
    class CancellingClock(VirtualClock):
        execution_id = None

        def sleep(self, seconds):
            super().sleep(seconds)
            if self.now() >= 45 and self.execution_id:
                assert engine.cancel(self.execution_id) is True
                self.execution_id = None

    clock = CancellingClock()
    engine._clock = clock
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        script.jobs(drs_job(job_id(1), {s: "IN_PROGRESS" for s in DB}, "STARTED"))
        clock.execution_id = engine.start(plan("multi_wave_dependencies"), GROUPS)
        result = engine.run(clock.execution_id or engine.history()[0]["ExecutionId"])
    assert result["Status"] == "CANCELLED" and result["CancelRequested"] is True
    assert [w["Status"] for w in result["Waves"]] == ["CANCELLED"] * 3
    assert {s["JobId"] for s in wave(result, 1)["Servers"]} == {job_id(1)}
    assert engine.cancel(result["ExecutionId"]) is False


def test_invalid_plan_is_refused_before_any_aws_call(engine):
    with drs(engine), pytest.raises(PlanValidationError, match="circular dependency"):
        engine.start(plan("circular_dependencies"), GROUPS)  # no DRS answers are scripted
    assert engine.history() == []


# -- R5 / R9: history and idempotency ----------------------------------------------------------

def test_running_record_is_written_at_start(engine):
    execution_id = engine.start(plan("single_wave"), GROUPS)
    record = engine.status(execution_id)
    assert record["Status"] == "RUNNING" and record["PlanId"] == "plan-single-wave"
    assert ISO.match(record["StartTime"]) and record["EndTime"] == ""
    assert [s["Status"] for s in wave(record, 1)["Servers"]] == ["PENDING", "PENDING"]
    no_nulls(record)


def test_a_dead_running_execution_does_not_block_the_plan_forever(engine, clock):
    # an engine that died (or lost DynamoDB for good) leaves RUNNING behind and stops updating it
    dead = engine.start(plan("single_wave", ExecutionTimeoutSeconds=600), GROUPS)
    clock.advance(300)
    assert engine.start(plan("single_wave", ExecutionTimeoutSeconds=600), GROUPS) == dead
    clock.advance(301)  # past its execution timeout without an update: nobody is running it
    fresh = engine.start(plan("single_wave", ExecutionTimeoutSeconds=600), GROUPS)
    assert fresh != dead


def test_duplicate_start_returns_the_running_execution(engine, clock):
    first = engine.start(plan("single_wave"), GROUPS)
    assert engine.start(plan("single_wave"), GROUPS) == first
    assert engine.start(plan("sequential"), GROUPS) != first
    engine.cancel(first)
    engine.run(first)
    clock.advance(1)
    assert engine.start(plan("single_wave"), GROUPS) != first  # the old one has ended


def test_same_idempotency_key_returns_the_same_execution_even_after_it_ended(engine):
    first = engine.start(plan("single_wave"), GROUPS, idempotency_key="change-4711")
    engine.cancel(first)
    engine.run(first)
    assert engine.start(plan("single_wave"), GROUPS, idempotency_key="change-4711") == first
    assert len(engine.history("plan-single-wave")) == 1


def test_history_query_by_plan_newest_first(engine, clock):
    ids = []
    for _ in range(3):
        ids.append(engine.start(plan("single_wave"), GROUPS))
        engine.cancel(ids[-1])
        engine.run(ids[-1])
        clock.advance(10)
    other = engine.start(plan("sequential"), GROUPS)
    assert [r["ExecutionId"] for r in engine.history("plan-single-wave")] == ids[::-1]
    assert [r["ExecutionId"] for r in engine.history("plan-single-wave", limit=2)] == ids[:0:-1]
    assert engine.history()[0]["ExecutionId"] == other and len(engine.history()) == 4
    assert "Plan" not in engine.history()[0]


def test_history_write_failure_is_retried(engine, instances, clock):
    faults = FaultInjector(engine.store.dynamodb)
    faults.throttle("UpdateItem", times=5, code="ProvisionedThroughputExceededException", status=400)
    with drs(engine) as script:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    assert result["Status"] == "COMPLETED"
    assert faults.calls["UpdateItem"] >= 6  # 4 by botocore, then retry_write's second try


def test_history_write_that_never_succeeds_stops_with_a_clear_error(engine):
    execution_id = engine.start(plan("single_wave"), GROUPS)
    FaultInjector(engine.store.dynamodb).throttle(
        "UpdateItem", times=30, code="ProvisionedThroughputExceededException", status=400)
    with drs(engine) as script:
        script.source_servers(DB).start_recovery(DB, job_id(1))
        with pytest.raises(RetriesExhausted, match=f"history write update {execution_id} failed after 3 "
                                                   "attempts: ProvisionedThroughputExceededException"):
            engine.run(execution_id)


def test_unknown_execution_is_reported(engine):
    with pytest.raises(ExecutionNotFound):
        engine.status("no-such-execution")
    with pytest.raises(ExecutionNotFound):
        engine.cancel("no-such-execution")


# -- R6: cross-account -------------------------------------------------------------------------

def test_cross_account_uses_the_assumed_role_and_refreshes_it(engine, clock, instances):
    data = plan("cross_account")
    data["Waves"][0]["WaitTimeSeconds"] = 3000  # 50 minutes: the 1 h credentials need a refresh
    data["Waves"].append({"WaveNumber": 2, "WaveName": "Application", "ProtectionGroupId": "pg-application",
                          "DependsOn": [1]})
    execution_id = engine.start(data, GROUPS)
    target = engine.accounts.target(ROLE)
    assert target.credentials.method == "gauntlet-assume-role" and target.account_id == "222222222222"
    ec2 = Stubber(target.client("ec2"))  # health checks must use the target account's clients
    for servers in (DB, APP):
        ec2.add_response("describe_instance_status",
                         ec2_states(*((instances[s], "running") for s in servers)),
                         {"InstanceIds": [instances[s] for s in servers], "IncludeAllInstances": True})
    with drs(engine, ROLE) as script, ec2:
        recover(script, DB, 1, instances)
        recover(script, APP, 2, instances)
        result = engine.run(execution_id)
    ec2.assert_no_pending_responses()
    assert result["Status"] == "COMPLETED", result["Error"]
    assert (result["SourceAccountId"], result["TargetAccountId"]) == ("123456789012", "222222222222")
    assert engine.accounts.assume_calls[ROLE] == 2  # at start, and again before wave 2 (t = 3060 s)
    assert target.credentials.get_frozen_credentials().access_key  # still valid after the refresh


def test_assume_role_failure_names_the_role_and_the_reason(engine):
    sts = Stubber(engine.accounts.home().client("sts"))
    sts.add_client_error("assume_role", "AccessDenied", "not authorized to perform sts:AssumeRole", 403)
    with sts, pytest.raises(CrossAccountError) as caught:
        engine.start(plan("cross_account"), GROUPS)
    assert ROLE in str(caught.value) and "AccessDenied: not authorized" in str(caught.value)
    assert engine.history() == []


# -- R8: notifications -------------------------------------------------------------------------

def test_sns_failure_is_logged_and_does_not_change_the_result(engine, instances, caplog):
    missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    with drs(engine) as script:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave", SnsTopicArn=missing_topic), GROUPS)
    assert result["Status"] == "COMPLETED" and result["Notification"] == "FAILED"
    assert "SNS publish to" in caplog.text and "no-such-topic" in caplog.text


def test_no_topic_no_notification(engine, instances):
    with drs(engine) as script:
        recover(script, DB, 1, instances)
        result = engine.execute(plan("single_wave"), GROUPS)
    assert result["Notification"] == "SKIPPED"


# -- against the project's DRS simulator -------------------------------------------------------

def test_multi_wave_plan_against_the_drs_simulator(aws):
    """No Stubber: the simulator's jobs move on the shared virtual clock (engine clock=None)."""
    if "drs" not in aws.services:
        pytest.skip("the DRS simulator (gauntlet.local.drs) is not importable")
    previous = set_default_clock(VirtualClock())
    try:
        engine = ExecutionEngine(history_table=f"drs-history-{uuid.uuid4().hex[:8]}")
        engine.ensure_history_table()
        try:
            result = engine.execute(plan("multi_wave_dependencies"), GROUPS)
            assert result["Status"] == "COMPLETED", result["Error"]
            assert result["Duration"] < 15 * 60 * 3
            for server in (s for w in result["Waves"] for s in w["Servers"]):
                assert server["JobId"].startswith("drsjob-") and server["RecoveryInstanceId"].startswith("i-")
                assert server["HealthCheck"] == "PASSED"
        finally:
            engine.store.drop_table()
    finally:
        set_default_clock(previous)
