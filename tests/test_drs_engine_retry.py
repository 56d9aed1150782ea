"""Retries, throttling, lost connectivity and duplicate-job protection, without any server:
botocore's real retry loop runs against answers injected below it (FaultInjector)."""

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from gauntlet.clock import VirtualClock
from gauntlet.sut.drs_engine.health import verdict
from gauntlet.sut.drs_engine.jobs import DrsError, DrsJobs, job_progress
from gauntlet.sut.drs_engine.notify import publish_summary, summary
from gauntlet.sut.drs_engine.plan import Server
from gauntlet.sut.drs_engine.retry import RETRY_CONFIG, RetriesExhausted, retry_write, use_clock_for_backoff
from gauntlet.sut.drs_engine.stubs import FaultInjector, drs_job, job_id

SERVERS = [Server("s-3d75cdc0d9a28a725", 1), Server("s-3afa164776f93ce4f", 2)]
IDS = [s.source_server_id for s in SERVERS]


class RecordingClock(VirtualClock):
    def __init__(self):
        super().__init__()
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        super().sleep(seconds)


@pytest.fixture
def clock():
    return RecordingClock()


@pytest.fixture
def drs(monkeypatch, clock):
    """A DRS client whose unscripted calls would hit a closed loopback port, never the internet."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("drs", config=RETRY_CONFIG)
    return use_clock_for_backoff(client, lambda: clock)


def started(job):
    return {"job": drs_job(job, {sid: "PENDING" for sid in IDS}, "PENDING")}


# -- botocore retries on the clock (R2.4, R4.4) -----------------------------------------------

def test_retry_configuration_is_standard_mode_with_three_retries(drs):
    assert drs.meta.config.retries == {"mode": "standard", "total_max_attempts": 4}


def test_throttled_start_recovery_is_retried_with_backoff_on_the_clock(drs, clock):
    faults = FaultInjector(drs).throttle("StartRecovery", times=2).answer("StartRecovery", started(job_id(7)))
    began = time.monotonic()
    launch = DrsJobs(drs, clock.wall).start(SERVERS, True, {})
    assert launch.jobs == {sid: job_id(7) for sid in IDS} and not launch.adopted
    assert faults.calls["StartRecovery"] == 3
    assert len(clock.sleeps) == 2 and clock.now() == pytest.approx(sum(clock.sleeps))
    assert time.monotonic() - began < 1  # the backoff was virtual


def test_throttling_that_never_stops_gives_a_clear_error(drs, clock):
    faults = FaultInjector(drs).throttle("StartRecovery", times=4)
    with pytest.raises(DrsError) as caught:
        DrsJobs(drs, clock.wall).start(SERVERS, True, {})
    assert str(caught.value) == (f"drs StartRecovery for {IDS[0]}, {IDS[1]} failed after 4 attempts: "
                                 "ThrottlingException: Rate exceeded")
    assert faults.calls["StartRecovery"] == 4 and len(clock.sleeps) == 3


def test_lost_connectivity_is_retried_before_failing(drs, clock):
    FaultInjector(drs).drop("DescribeJobs", "refused", times=4)
    with pytest.raises(DrsError, match=r"drs DescribeJobs \(drsjob-\w+\) for s-\w+ failed after 4 attempts: "
                                       r"EndpointConnectionError"):
        DrsJobs(drs, clock.wall).progress([job_id(1)], IDS[:1])
    assert len(clock.sleeps) == 3


def test_connectivity_back_after_a_drop(drs, clock):
    active = drs_job(job_id(1), {IDS[0]: "IN_PROGRESS"}, "STARTED")
    FaultInjector(drs).drop("DescribeJobs", "closed").answer("DescribeJobs", {"items": [active]})
    progress = DrsJobs(drs, clock.wall).progress([job_id(1)], IDS[:1])
    assert progress[job_id(1)].status == "IN_PROGRESS"


# -- no duplicate recovery jobs (R9.3) --------------------------------------------------------

def test_retried_start_that_already_created_a_job_adopts_it(drs, clock):
    """First attempt times out after DRS created the job; botocore's retry meets ConflictException."""
    active = drs_job(job_id(3), {sid: "PENDING" for sid in IDS}, "PENDING")
    faults = (FaultInjector(drs).drop("StartRecovery", "timeout")
              .fail("StartRecovery", "ConflictException", "source server already in an active job", 409)
              .answer("DescribeJobs", {"items": [active]}))
    launch = DrsJobs(drs, clock.wall).start(SERVERS, True, {})
    assert launch.adopted and launch.jobs == {sid: job_id(3) for sid in IDS}
    assert faults.calls["StartRecovery"] == 2 and faults.calls["DescribeJobs"] == 1


def test_ambiguous_failure_with_no_job_found_is_an_error(drs, clock):
    FaultInjector(drs).drop("StartRecovery", "timeout", times=4).answer("DescribeJobs", {"items": []})
    with pytest.raises(DrsError, match="drs StartRecovery for .* failed after 4 attempts: ReadTimeoutError"):
        DrsJobs(drs, clock.wall).start(SERVERS, True, {})


def test_conflict_for_only_some_servers(drs, clock):
    active = drs_job(job_id(4), {IDS[0]: "IN_PROGRESS"}, "STARTED")
    done = drs_job(job_id(2), {IDS[1]: "LAUNCHED"}, "COMPLETED")
    (FaultInjector(drs).fail("StartRecovery", "ConflictException", "server in active job", 409)
     .answer("DescribeJobs", {"items": [active, done]}))
    launch = DrsJobs(drs, clock.wall).start(SERVERS, True, {})
    assert launch.jobs == {IDS[0]: job_id(4)}
    assert "ConflictException" in launch.errors[IDS[1]]


# -- DRS status translation (R2.3) ------------------------------------------------------------

@pytest.mark.parametrize("job_status,launch,engine_job,engine_server", [
    ("PENDING", "PENDING", "PENDING", "PENDING"),
    ("STARTED", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS"),
    ("COMPLETED", "LAUNCHED", "COMPLETED", "COMPLETED"),
    ("COMPLETED", "FAILED", "FAILED", "FAILED"),
    ("COMPLETED", "TERMINATED", "FAILED", "FAILED"),
    ("COMPLETED", "IN_PROGRESS", "FAILED", "FAILED"),
    ("STARTED", "FAILED", "IN_PROGRESS", "FAILED"),
])
def test_job_status_translation(job_status, launch, engine_job, engine_server):
    progress = job_progress(drs_job(job_id(1), {IDS[0]: launch}, job_status))
    assert (progress.status, progress.servers[IDS[0]].status) == (engine_job, engine_server)


def test_health_verdicts():
    assert verdict("i-1", "running", 0, 300) == ("PASSED", "")
    assert verdict("i-1", "pending", 270, 300) == ("PENDING", "")
    assert verdict("i-1", "pending", 300, 300) == (
        "FAILED", "instance i-1 not running after 300 s (last state: pending)")
    assert verdict("i-1", "terminated", 0, 300)[0] == "FAILED"


# -- history write retry (R9.4, R9.5) ---------------------------------------------------------

def throttled():
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                       "UpdateItem")


def test_history_write_retried_with_backoff_on_the_clock(clock):
    outcomes = [throttled(), throttled(), "ok"]

    def write():
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    assert retry_write(write, "update e-1", clock) == "ok"
    assert clock.sleeps == [0.5, 1.0]


def test_history_write_gives_up_with_a_clear_error(clock):
    def write():
        raise throttled()
    with pytest.raises(RetriesExhausted) as caught:
        retry_write(write, "update e-1", clock)
    assert str(caught.value) == ("history write update e-1 failed after 3 attempts: "
                                 "ProvisionedThroughputExceededException: slow down")


def test_history_write_does_not_retry_a_failed_condition(clock):
    calls = []

    def write():
        calls.append(1)
        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem")
    with pytest.raises(ClientError):
        retry_write(write, "create e-1", clock)
    assert calls == [1] and clock.sleeps == []


# -- SNS message (R8) -------------------------------------------------------------------------

def test_summary_of_a_failed_execution_names_error_and_servers():
    servers = [{"SourceServerId": IDS[0], "Status": "COMPLETED", "JobId": job_id(1), "Error": ""},
               {"SourceServerId": IDS[1], "Status": "FAILED", "JobId": job_id(1), "Error": "boom"}]
    record = {"ExecutionId": "e-1", "PlanId": "p", "Status": "FAILED", "Duration": 12.5, "ServerCount": 2,
              "Error": "wave 1 (Database) failed",
              "Waves": [{"WaveNumber": 1, "Status": "FAILED", "Servers": servers}]}
    body = summary(record)
    assert (body["ExecutionId"], body["PlanId"], body["Status"], body["Duration"], body["ServerCount"]) == (
        "e-1", "p", "FAILED", 12.5, 2)
    assert body["Error"] == "wave 1 (Database) failed"
    assert body["AffectedServers"] == [{"SourceServerId": IDS[1], "WaveNumber": 1, "Status": "FAILED",
                                        "JobId": job_id(1), "Error": "boom"}]
    assert publish_summary(None, "", record) == "SKIPPED"
