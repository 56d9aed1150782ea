"""The DRS simulator through real boto3 clients on the loopback endpoint (moto + simulator).

Every response is checked against botocore's output shape; job progress follows a VirtualClock.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.retries.standard
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from hypothesis import given
from hypothesis import strategies as st

from gauntlet.clock import VirtualClock, set_default_clock
from gauntlet.local.drs.responses import paginate
from gauntlet.local.drs.shapes import shape_problems
from gauntlet.local.endpoint import LoopbackEndpoint

DB1, DB2 = "s-3d75cdc0d9a28a725", "s-3afa164776f93ce4f"
OTHER_ACCOUNT = "111111111111"
DEFAULT_ACCOUNT = "123456789012"
# Default timing: PENDING 20-40 s, each server's launch 120-360 s, termination 30-90 s.
LAUNCH_DONE = 40 + 360 + 5
TERMINATE_DONE = 40 + 90 + 5


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("MOTO_ACCOUNT_ID", raising=False)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        server = LoopbackEndpoint().start()
        patch.setenv("AWS_ENDPOINT_URL", server.url)
        try:
            yield server
        finally:
            _post(server, "/moto-api/reset", {})  # moto's backends are process-wide: leave them clean
            server.stop()


@pytest.fixture()
def app(endpoint):
    return endpoint.services["drs"]


@pytest.fixture()
def clock(endpoint):
    """A fresh VirtualClock shared by test and simulator; state reset before each test."""
    virtual = VirtualClock(start=1_790_000_000.0)
    previous = set_default_clock(virtual)
    _post(endpoint, "/moto-api/reset", {})
    yield virtual
    set_default_clock(previous)


@pytest.fixture()
def delays(monkeypatch):
    """botocore's backoff delays, recorded instead of slept (its sleep is real time)."""
    recorded: list[float] = []
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def record(self, context):
        recorded.append(original(self, context))
        return 0

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", record)
    return recorded


def client(service: str, config: Config | None = None, **kwargs):
    """A boto3 client with botocore's standard retry mode, 3 attempts in all."""
    base = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=10)
    return boto3.client(service, config=base.merge(config) if config else base, **kwargs)


@pytest.fixture(scope="module")
def clients(endpoint):
    """Clients are stateless and slow to build: one of each per module."""
    return {"drs": client("drs"), "ec2": client("ec2")}


@pytest.fixture()
def drs(clients, clock):
    return clients["drs"]


@pytest.fixture()
def ec2(clients, clock):
    return clients["ec2"]


def _post(endpoint, path: str, body: dict[str, Any]) -> dict[str, Any]:
    return _http(endpoint, "POST", path, body)


def _http(endpoint, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip().startswith(("{", "[")) else text


# --- output shape validation ----------------------------------------------------------------


def assert_shape(drs_client, operation: str, response: dict[str, Any]) -> None:
    """Walk botocore's output shape: required members, types, enums, patterns, lengths."""
    problems = shape_problems(drs_client, operation, response)
    assert not problems, "\n".join(problems)


def job_now(drs, job_id: str) -> dict[str, Any]:
    response = drs.describe_jobs(filters={"jobIDs": [job_id]})
    assert_shape(drs, "DescribeJobs", response)
    (job,) = response["items"]
    return job


def events(drs, job_id: str) -> list[dict[str, Any]]:
    response = drs.describe_job_log_items(jobID=job_id)
    assert_shape(drs, "DescribeJobLogItems", response)
    return response["items"]


def instances_of(ec2, source_server_id: str) -> list[dict[str, Any]]:
    reservations = ec2.describe_instances(
        Filters=[{"Name": "tag:drs:source-server-id", "Values": [source_server_id]}])["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


def launch(drs, clock, *server_ids: str, **kwargs) -> dict[str, Any]:
    """Start a recovery (a drill unless told otherwise) and let it run to completion."""
    kwargs.setdefault("sourceServers", [{"sourceServerID": s} for s in server_ids])
    kwargs.setdefault("isDrill", True)
    job = drs.start_recovery(**kwargs)["job"]
    clock.advance(LAUNCH_DONE)
    return job_now(drs, job["jobID"])


# --- tests ----------------------------------------------------------------------------------


def test_seeded_source_servers_and_snapshots(drs):
    response = drs.describe_source_servers()
    assert_shape(drs, "DescribeSourceServers", response)
    servers = response["items"]
    assert len(servers) == 6
    assert {DB1, DB2} <= {s["sourceServerID"] for s in servers}
    groups = sorted(s["tags"]["ProtectionGroup"] for s in servers)
    assert groups == ["Application"] * 2 + ["Database"] * 2 + ["Web"] * 2
    for server in servers:
        assert server["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS"
        assert "Windows" in server["sourceProperties"]["os"]["fullString"]
        assert server["arn"].endswith(f":{DEFAULT_ACCOUNT}:source-server/{server['sourceServerID']}")
        snapshots = drs.describe_recovery_snapshots(sourceServerID=server["sourceServerID"])
        assert_shape(drs, "DescribeRecoverySnapshots", snapshots)
        assert snapshots["items"]
        stamps = [s["timestamp"] for s in snapshots["items"]]
        assert stamps == sorted(stamps)

    only = drs.describe_source_servers(filters={"sourceServerIDs": [DB2, "s-00000000000000000"]})["items"]
    assert [s["sourceServerID"] for s in only] == [DB2]
    mac = only[0]["sourceProperties"]["networkInterfaces"][0]["macAddress"]
    assert [s["sourceServerID"] for s in drs.describe_source_servers(
        filters={"hardwareId": mac})["items"]] == [DB2]
    assert len(drs.describe_source_servers(filters={"stagingAccountIDs": [DEFAULT_ACCOUNT]})["items"]) == 6
    assert drs.describe_source_servers(filters={"stagingAccountIDs": [OTHER_ACCOUNT]})["items"] == []


def test_drill_job_follows_the_clock_and_launches_ec2(drs, ec2, clock):
    response = drs.start_recovery(sourceServers=[{"sourceServerID": DB1}, {"sourceServerID": DB2}],
                                  isDrill=True, tags={"gauntlet:run-id": "run-1"})
    assert_shape(drs, "StartRecovery", response)
    job = response["job"]
    assert job["jobID"].startswith("drsjob-") and len(job["jobID"]) == 24
    assert (job["type"], job["initiatedBy"], job["status"]) == ("LAUNCH", "START_DRILL", "PENDING")
    assert {p["launchStatus"] for p in job["participatingServers"]} == {"PENDING"}

    clock.advance(19)
    assert job_now(drs, job["jobID"])["status"] == "PENDING"
    clock.advance(25)
    started = job_now(drs, job["jobID"])
    assert started["status"] == "STARTED"
    assert {p["launchStatus"] for p in started["participatingServers"]} == {"IN_PROGRESS"}
    assert "endDateTime" not in started

    clock.advance(LAUNCH_DONE)
    done = job_now(drs, job["jobID"])
    assert done["status"] == "COMPLETED" and "endDateTime" in done
    assert {p["launchStatus"] for p in done["participatingServers"]} == {"LAUNCHED"}

    names = [e["event"] for e in events(drs, job["jobID"])]
    assert names[0] == "JOB_START" and names[-1] == "JOB_END"
    for name in ("SNAPSHOT_START", "SNAPSHOT_END", "CONVERSION_START", "CONVERSION_END", "LAUNCH_START"):
        assert names.count(name) == 2, names

    recovered = drs.describe_recovery_instances(filters={"sourceServerIDs": [DB1]})
    assert_shape(drs, "DescribeRecoveryInstances", recovered)
    (record,) = recovered["items"]
    assert record["ec2InstanceState"] == "RUNNING" and record["isDrill"] is True
    assert record["jobID"] == job["jobID"]
    (instance,) = instances_of(ec2, DB1)
    assert instance["InstanceId"] == record["recoveryInstanceID"] == record["ec2InstanceID"]
    assert instance["State"]["Name"] == "running"
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["AWSElasticDisasterRecoveryManaged"] == "drs.amazonaws.com"
    assert tags["drs:job-id"] == job["jobID"] and tags["gauntlet:run-id"] == "run-1"

    (server,) = drs.describe_source_servers(filters={"sourceServerIDs": [DB1]})["items"]
    assert server["recoveryInstanceId"] == record["recoveryInstanceID"]
    assert server["lastLaunchResult"] == "SUCCEEDED"
    assert server["lifeCycle"]["lastLaunch"]["initiated"]["jobID"] == job["jobID"]
    # DRS took an on-demand snapshot for this launch.
    assert len(drs.describe_recovery_snapshots(sourceServerID=DB1)["items"]) == 4


def test_recovery_from_a_chosen_snapshot(drs, clock):
    snapshot = drs.describe_recovery_snapshots(sourceServerID=DB1, order="DESC")["items"][0]
    job = launch(drs, clock, DB1, isDrill=False,
                 sourceServers=[{"sourceServerID": DB1, "recoverySnapshotID": snapshot["snapshotID"]}])
    assert job["initiatedBy"] == "START_RECOVERY"
    names = [e["event"] for e in events(drs, job["jobID"])]
    assert "USING_PREVIOUS_SNAPSHOT" in names and "SNAPSHOT_START" not in names
    (record,) = drs.describe_recovery_instances()["items"]
    assert record["pointInTimeSnapshotDateTime"] == snapshot["timestamp"] and record["isDrill"] is False

    with pytest.raises(ClientError) as error:
        drs.start_recovery(sourceServers=[{"sourceServerID": DB2, "recoverySnapshotID": snapshot["snapshotID"]}])
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_server_and_active_job_conflict(drs, clock):
    with pytest.raises(ClientError) as error:
        drs.start_recovery(sourceServers=[{"sourceServerID": "s-0123456789abcdef0"}])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "s-0123456789abcdef0" in error.value.response["Error"]["Message"]
    assert drs.describe_jobs()["items"] == []

    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])["job"]
    with pytest.raises(ClientError) as error:
        drs.start_recovery(sourceServers=[{"sourceServerID": DB2}, {"sourceServerID": DB1}])
    assert error.value.response["Error"]["Code"] == "ConflictException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert DB1 in error.value.response["Error"]["Message"]
    assert [j["jobID"] for j in drs.describe_jobs()["items"]] == [job["jobID"]]
    clock.advance(LAUNCH_DONE)
    drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])  # no conflict once COMPLETED


def test_server_side_validation_without_botocore_checks(drs):
    raw = client("drs", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as error:
        raw.start_recovery(sourceServers=[{"sourceServerID": "s-short"}])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "sourceServers.1.member.sourceServerID" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        raw.describe_job_log_items(jobID="drsjob-00000000000000000")
    assert "drsjob-00000000000000000" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        raw.initialize_service()
    assert error.value.response["Error"]["Code"] == "NotImplementedException"


def test_terminate_recovery_instances_terminates_ec2(drs, ec2, clock):
    launch(drs, clock, DB1, DB2)
    ids = [r["recoveryInstanceID"] for r in drs.describe_recovery_instances()["items"]]
    response = drs.terminate_recovery_instances(recoveryInstanceIDs=ids)
    assert_shape(drs, "TerminateRecoveryInstances", response)
    job = response["job"]
    assert (job["type"], job["initiatedBy"]) == ("TERMINATE", "TERMINATE_RECOVERY_INSTANCES")
    with pytest.raises(ClientError) as error:
        drs.terminate_recovery_instances(recoveryInstanceIDs=ids[:1])
    assert error.value.response["Error"]["Code"] == "ConflictException"

    clock.advance(41)
    assert job_now(drs, job["jobID"])["status"] == "STARTED"  # DRS state advances on DRS calls
    assert {i["State"]["Name"] for i in instances_of(ec2, DB1)} == {"shutting-down"}
    clock.advance(TERMINATE_DONE)
    done = job_now(drs, job["jobID"])  # (before EC2 is asked: see test_tick_applies_due_transitions)
    assert done["status"] == "COMPLETED"
    assert {p["launchStatus"] for p in done["participatingServers"]} == {"TERMINATED"}
    assert {i["State"]["Name"] for s in (DB1, DB2) for i in instances_of(ec2, s)} == {"terminated"}
    assert drs.describe_recovery_instances()["items"] == []
    assert "recoveryInstanceId" not in drs.describe_source_servers(
        filters={"sourceServerIDs": [DB1]})["items"][0]
    with pytest.raises(ClientError):
        drs.terminate_recovery_instances(recoveryInstanceIDs=ids[:1])


def test_new_launch_replaces_previous_recovery_instance(drs, ec2, clock):
    launch(drs, clock, DB1)
    (first,) = drs.describe_recovery_instances()["items"]
    job = launch(drs, clock, DB1)
    names = [e["event"] for e in events(drs, job["jobID"])]
    assert names[1:3] == ["CLEANUP_START", "CLEANUP_END"]
    (second,) = drs.describe_recovery_instances()["items"]
    assert second["recoveryInstanceID"] != first["recoveryInstanceID"]
    states = {i["InstanceId"]: i["State"]["Name"] for i in instances_of(ec2, DB1)}
    assert states == {first["ec2InstanceID"]: "terminated", second["ec2InstanceID"]: "running"}


def test_pagination_with_boto3_paginators(drs, clock):
    pages = list(drs.get_paginator("describe_source_servers").paginate(PaginationConfig={"PageSize": 4}))
    assert [len(p["items"]) for p in pages] == [4, 2]
    for page in pages:
        assert_shape(drs, "DescribeSourceServers", page)
    servers = [s["sourceServerID"] for p in pages for s in p["items"]]
    job_ids = [drs.start_recovery(sourceServers=[{"sourceServerID": s}])["job"]["jobID"] for s in servers]
    paged = drs.get_paginator("describe_jobs").paginate(PaginationConfig={"PageSize": 4}).build_full_result()
    assert [j["jobID"] for j in paged["items"]] == job_ids
    clock.advance(LAUNCH_DONE)
    log = drs.get_paginator("describe_job_log_items").paginate(
        jobID=job_ids[0], PaginationConfig={"PageSize": 3}).build_full_result()["items"]
    assert log == events(drs, job_ids[0])
    instances = drs.get_paginator("describe_recovery_instances").paginate(
        PaginationConfig={"PageSize": 5}).build_full_result()["items"]
    assert len(instances) == 6
    snapshots = drs.get_paginator("describe_recovery_snapshots").paginate(
        sourceServerID=DB1, PaginationConfig={"PageSize": 1}).build_full_result()["items"]
    assert len(snapshots) == 4
    with pytest.raises(ClientError) as error:
        drs.describe_jobs(nextToken="not-a-token")
    assert error.value.response["Error"]["Code"] == "ValidationException"


@given(total=st.integers(0, 30), page_size=st.integers(1, 40))
def test_paging_returns_every_item_once_in_order(total, page_size):
    items = [{"n": n} for n in range(total)]
    seen, token = [], None
    while True:
        page = paginate(items, {"maxResults": page_size, **({"nextToken": token} if token else {})})
        seen += page["items"]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == items


def test_describe_jobs_date_filters(drs, clock):
    first = drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])["job"]
    clock.advance(3600)
    second = drs.start_recovery(sourceServers=[{"sourceServerID": DB2}])["job"]
    after = drs.describe_jobs(filters={"fromDate": second["creationDateTime"]})["items"]
    assert [j["jobID"] for j in after] == [second["jobID"]]
    before = drs.describe_jobs(filters={"toDate": first["creationDateTime"]})["items"]
    assert [j["jobID"] for j in before] == [first["jobID"]]


def test_throttling_is_retried_by_botocore_and_counted(drs, app, delays):
    app.control.reset_calls()
    app.control.inject("StartRecovery", "throttle", count=2)
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])["job"]
    assert job["status"] == "PENDING"
    calls = app.control.calls()
    assert calls["operations"]["StartRecovery"] == 3 and calls["faulted"] == {"StartRecovery": 2}
    assert len(delays) == 2  # two backoffs, computed by botocore's standard retry mode

    app.control.inject("DescribeJobs", "throttle", count=3)
    with pytest.raises(ClientError) as error:
        drs.describe_jobs()
    assert error.value.response["Error"]["Code"] == "ThrottlingException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert app.control.faults() == []


def test_errors_and_timeouts_over_http_control(endpoint, drs, delays):
    _post(endpoint, "/gauntlet-api/drs/calls/reset", {})
    _post(endpoint, "/gauntlet-api/drs/faults", {"operation": "DescribeSourceServers", "kind": "error",
                                                  "count": 1, "status": 500})
    assert len(drs.describe_source_servers()["items"]) == 6  # a 500 is retried

    _post(endpoint, "/gauntlet-api/drs/faults", {"operation": "DescribeSourceServers", "kind": "error",
                                                  "code": "AccessDeniedException", "status": 403})
    with pytest.raises(ClientError) as error:
        drs.describe_source_servers()
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"  # not retried

    _post(endpoint, "/gauntlet-api/drs/faults", {"operation": "DescribeJobs", "kind": "timeout", "count": 2})
    assert drs.describe_jobs()["items"] == []  # two dropped connections, then success
    _post(endpoint, "/gauntlet-api/drs/faults", {"operation": "*", "kind": "timeout", "count": 3})
    with pytest.raises(ConnectionClosedError):
        drs.describe_jobs()

    calls = _http(endpoint, "GET", "/gauntlet-api/drs/calls")
    assert calls["operations"] == {"DescribeSourceServers": 3, "DescribeJobs": 6}
    assert calls["faulted"] == {"DescribeSourceServers": 2, "DescribeJobs": 5}
    assert calls["total"] == 9
    with pytest.raises(urllib.error.HTTPError) as bad:
        _post(endpoint, "/gauntlet-api/drs/faults", {"operation": "StartRecovery", "kind": "meteor"})
    assert bad.value.code == 400


def test_failed_recovery_reports_launch_failed(endpoint, drs, ec2, clock):
    _post(endpoint, "/gauntlet-api/drs/jobs/fail", {"sourceServerID": DB2, "message": "Insufficient capacity"})
    job = launch(drs, clock, DB1, DB2)
    status = {p["sourceServerID"]: p["launchStatus"] for p in job["participatingServers"]}
    assert job["status"] == "COMPLETED" and status == {DB1: "LAUNCHED", DB2: "FAILED"}
    failed = [e for e in events(drs, job["jobID"]) if e["event"] == "LAUNCH_FAILED"]
    assert [(e["eventData"]["sourceServerID"], e["eventData"]["rawError"]) for e in failed] == [
        (DB2, "Insufficient capacity")]
    assert instances_of(ec2, DB2) == []
    assert drs.describe_source_servers(filters={"sourceServerIDs": [DB2]})["items"][0][
        "lastLaunchResult"] == "FAILED"
    # Only the next recovery fails.
    assert launch(drs, clock, DB2)["participatingServers"][0]["launchStatus"] == "LAUNCHED"


def test_stuck_pending_instance_stays_pending(endpoint, app, drs, ec2, clock):
    armed = _post(endpoint, "/gauntlet-api/drs/instances/stuck-pending", {"sourceServerID": DB1})
    assert armed["armed"] is True
    launch(drs, clock, DB1, DB2)
    clock.advance(600)
    statuses = ec2.describe_instance_status(IncludeAllInstances=True)["InstanceStatuses"]
    by_id = {s["InstanceId"]: s["InstanceState"]["Name"] for s in statuses}
    (db1,) = instances_of(ec2, DB1)
    (db2,) = instances_of(ec2, DB2)
    assert by_id[db1["InstanceId"]] == "pending" and by_id[db2["InstanceId"]] == "running"
    assert drs.describe_recovery_instances(filters={"sourceServerIDs": [DB1]})["items"][0][
        "ec2InstanceState"] == "PENDING"

    assert app.control.stuck_pending(DB2) == [db2["InstanceId"]]  # a live instance: held at once
    assert instances_of(ec2, DB2)[0]["State"]["Name"] == "pending"


def test_accounts_are_isolated_by_credentials(drs, ec2, clock):
    creds = client("sts").assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/drs-recovery",
                                      RoleSessionName="gauntlet")["Credentials"]
    keys = {"aws_access_key_id": creds["AccessKeyId"], "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"]}
    other_drs, other_ec2 = client("drs", **keys), client("ec2", **keys)
    job = other_drs.start_recovery(sourceServers=[{"sourceServerID": DB1}], isDrill=True)["job"]
    assert f":{OTHER_ACCOUNT}:job/" in job["arn"]
    clock.advance(LAUNCH_DONE)
    assert drs.describe_jobs()["items"] == []
    assert [j["status"] for j in other_drs.describe_jobs()["items"]] == ["COMPLETED"]
    assert instances_of(ec2, DB1) == [] and len(instances_of(other_ec2, DB1)) == 1
    (server,) = other_drs.describe_source_servers(filters={"sourceServerIDs": [DB1]})["items"]
    assert server["stagingArea"]["stagingAccountID"] == OTHER_ACCOUNT
    west = client("drs", region_name="us-west-2")
    assert west.describe_recovery_instances()["items"] == []
    assert ":us-west-2:" in west.describe_source_servers()["items"][0]["arn"]


def test_reset_and_timing_controls(endpoint, app, drs, clock):
    timing = _post(endpoint, "/gauntlet-api/drs/timing", {"pending": [1, 1], "launch": [10, 10]})
    assert timing["launch"] == [10.0, 10.0]
    job = drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])["job"]
    clock.advance(12.5)
    assert job_now(drs, job["jobID"])["status"] == "COMPLETED"

    app.control.inject("DescribeJobs", "throttle", count=5)
    _post(endpoint, "/moto-api/reset", {})
    assert app.control.faults() == [] and app.control.calls()["total"] == 0
    assert app.control.timing()["launch"] == [120.0, 360.0]  # timing changes are undone too
    assert drs.describe_jobs()["items"] == []
    drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])
    assert _post(endpoint, "/gauntlet-api/drs/reset", {}) == {"reset": True}
    assert drs.describe_jobs()["items"] == []


def test_any_request_applies_due_transitions(app, drs, ec2, clock):
    drs.start_recovery(sourceServers=[{"sourceServerID": DB1}])
    clock.advance(LAUNCH_DONE)
    # the endpoint ticks every service before any request: an EC2-only poller sees the launch
    assert [i["State"]["Name"] for i in instances_of(ec2, DB1)] == ["running"]


def test_twenty_servers_launch_in_parallel_within_rto(endpoint, drs, ec2, clock):
    added = _post(endpoint, "/gauntlet-api/drs/source-servers", {"count": 14, "tags": {"ProtectionGroup": "Scale"}})
    ids = [s["sourceServerID"] for s in drs.describe_source_servers()["items"]]
    assert len(ids) == 20 and set(added["sourceServerIDs"]) <= set(ids)
    job = drs.start_recovery(sourceServers=[{"sourceServerID": s} for s in ids], isDrill=True)["job"]
    clock.advance(15 * 60)
    done = job_now(drs, job["jobID"])
    assert done["status"] == "COMPLETED"
    assert {p["launchStatus"] for p in done["participatingServers"]} == {"LAUNCHED"}
    running = ec2.describe_instances(Filters=[{"Name": "tag:AWSElasticDisasterRecoveryManaged",
                                               "Values": ["drs.amazonaws.com"]}])["Reservations"]
    assert sum(len(r["Instances"]) for r in running) == 20
