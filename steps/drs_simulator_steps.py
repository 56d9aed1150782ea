"""@drs steps of the real DRS environment (R10), the mocking infrastructure (R11) and the test
data (R12): the simulator's answers against botocore's API model, its timing and faults, the
network guard, and the fixtures under fixtures/drs."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from behave import given, then, when
from botocore.exceptions import ClientError, ConnectionClosedError
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than_or_equal_to,
    has_item,
    has_length,
    instance_of,
    is_,
    is_not,
    less_than,
    less_than_or_equal_to,
    matches_regexp,
    only_contains,
)

from drs_support import (
    PASCAL_CASE,
    PLAN_FILES,
    Probe,
    call_and_catch,
    changed,
    epoch,
    field_names,
    latest_record,
    plan_named,
    protection_groups,
    run_plan,
    servers_of,
    world,
)
from gauntlet.clock import real_clock
from gauntlet.local import network_guard
from gauntlet.local.drs.shapes import shape_problems
from gauntlet.sut.drs_engine import PlanValidationError
from gauntlet.sut.drs_engine.history import PLAN_INDEX
from gauntlet.sut.drs_engine.jobs import DrsJobs, job_progress
from gauntlet.sut.drs_engine.plan import validate_plan

MANAGED_TAG = ("AWSElasticDisasterRecoveryManaged", "drs.amazonaws.com")
FEATURES = Path(__file__).resolve().parents[1] / "features" / "drs"


# -- R10: a real DRS account -----------------------------------------------------------------

@given("the real DRS account of the target")
def step_real_world(context):
    """Per-scenario state against the real account (history table, recorder, clean-up)."""
    assert_that(world(context).offline, is_(False), "this feature needs a real target (@needs.real-drs)")
    world(context).begin_scenario(context)


@when("the test source servers are described in DRS")
def step_describe_test_servers(context):
    """DescribeSourceServers for the target's test servers."""
    context.servers = world(context).source_servers(world(context).test_servers)


@then("there are {count:d} of them, each a Windows server in CONTINUOUS replication")
def step_windows_continuous(context, count):
    """Count, replication state and operating system DRS reports."""
    assert_that(context.servers, has_length(count))
    for server in context.servers:
        assert_that(server["dataReplicationInfo"]["dataReplicationState"], equal_to("CONTINUOUS"),
                    server["sourceServerID"])
        assert_that(server["sourceProperties"]["os"]["fullString"], contains_string("Windows"))


@when("the plan is executed as a drill")
def step_execute_drill(context):
    """IsDrill true, then execute."""
    changed(context)
    context.plan["IsDrill"] = True
    context.execution = run_plan(world(context), context.plan, context.groups)


@then("every recovered server has a running EC2 instance, managed by DRS and marked as a drill")
def step_real_instances(context):
    """EC2 state and tags of each recovery instance; isDrill in DRS."""
    drs = world(context)
    ids = [s["RecoveryInstanceId"] for s in servers_of(latest_record(context))]
    assert_that(ids, only_contains(is_not("")))
    instances = drs.instances(ids)
    assert_that(sorted(instances), equal_to(sorted(ids)))
    for instance in instances.values():
        assert_that(instance["State"]["Name"], equal_to("running"), instance["InstanceId"])
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        assert_that(tags.get(MANAGED_TAG[0]), equal_to(MANAGED_TAG[1]), instance["InstanceId"])
    recovered = {r["ec2InstanceID"]: r for r in drs.recovery_instances()}
    assert_that([recovered[i]["isDrill"] for i in ids], only_contains(True))


@then("DRS no longer lists any of them as a recovery instance")
def step_not_listed(context):
    """DescribeRecoveryInstances has none of the drill's instances."""
    listed = {r["ec2InstanceID"] for r in world(context).recovery_instances()}
    assert_that(listed & set(context.drill_instances), empty())


@then("the target's region is us-east-1")
def step_region(context):
    """The region of the target (and of every client)."""
    assert_that(world(context).region, equal_to("us-east-1"))


@then("DRS there has every one of these servers, replicating")
def step_servers_available(context):
    """Each listed server is known to DRS in that region, with replication running."""
    found = {s["sourceServerID"]: s for s in context.servers}
    for row in context.table:
        server = found.get(row["server"])
        assert_that(server, is_not(None), row["server"])
        assert_that(server["arn"], contains_string(f":{world(context).region}:"))
        assert_that(server["dataReplicationInfo"]["dataReplicationState"],
                    equal_to("CONTINUOUS"), row["server"])


@when("each read operation the engine uses is called on DRS and timed")
def step_timed_reads(context):
    """Every read operation, timed on the wall clock, its response kept."""
    drs = world(context).client("drs")
    servers = world(context).test_servers
    calls = [("DescribeSourceServers", lambda: drs.describe_source_servers(filters={"sourceServerIDs": servers})),
             ("DescribeJobs", lambda: drs.describe_jobs()),
             ("DescribeRecoveryInstances", lambda: drs.describe_recovery_instances()),
             ("DescribeRecoverySnapshots", lambda: drs.describe_recovery_snapshots(sourceServerID=servers[0]))]
    context.timed = []
    for operation, call in calls:
        wall = real_clock.now()
        response = call()
        context.timed.append((operation, response, real_clock.now() - wall))
    jobs = context.timed[1][1]["items"]
    if jobs:
        wall = real_clock.now()
        response = drs.describe_job_log_items(jobID=jobs[0]["jobID"])
        context.timed.append(("DescribeJobLogItems", response, real_clock.now() - wall))


@then("every response matches botocore's output shape for its operation")
def step_timed_shapes(context):
    """No response disagrees with the API model."""
    drs = world(context).client("drs")
    for operation, response, _ in context.timed:
        assert_that(shape_problems(drs, operation, response), empty(), operation)


@then("every call answered within {seconds:d} seconds")
def step_timed_fast(context, seconds):
    """The wall time of each call."""
    for operation, _, took in context.timed:
        assert_that(took, less_than(seconds), operation)


# -- R11: the simulator ----------------------------------------------------------------------

@then("every DRS response the engine received matches botocore's output shape for its operation")
def step_engine_responses_shaped(context):
    """The parsed response of every successful DRS call of the engine, against the API model."""
    drs = world(context).client("drs")
    calls = [c for c in world(context).calls.of("drs") if c.response and not c.error_code]
    assert_that({c.operation for c in calls}, has_item("StartRecovery"))
    assert_that({c.operation for c in calls}, has_item("DescribeJobs"))
    for call in calls:
        assert_that(shape_problems(drs, call.operation, call.response), empty(), call.operation)


@then("every recovery instance DRS reported is an EC2 instance in moto, tagged as managed by DRS")
def step_instances_real(context):
    """Each RecoveryInstanceId of the record is an EC2 instance with DRS's tags."""
    servers = servers_of(latest_record(context))
    instances = world(context).instances([s["RecoveryInstanceId"] for s in servers])
    assert_that(instances, has_length(len(servers)))
    for server in servers:
        tags = {t["Key"]: t["Value"] for t in instances[server["RecoveryInstanceId"]].get("Tags", [])}
        assert_that(tags.get(MANAGED_TAG[0]), equal_to(MANAGED_TAG[1]))
        assert_that(tags.get("drs:source-server-id"), equal_to(server["SourceServerId"]))
        assert_that(tags.get("gauntlet:execution-id"), equal_to(latest_record(context)["ExecutionId"]))


@then("every DRS job id and ARN has the format DRS gives them")
def step_job_formats(context):
    """drsjob- and 17 characters; arn:aws:drs:<region>:<account>:job/<id>."""
    drs = world(context)
    account = drs.home_account()
    jobs = drs.launch_jobs()
    assert_that(jobs, is_not(empty()))
    for job in jobs:
        assert_that(job["jobID"], matches_regexp(r"^drsjob-[0-9a-f]{17}$"))
        assert_that(job["arn"], equal_to(f"arn:aws:drs:{drs.region}:{account}:job/{job['jobID']}"))


@when("a recovery of {server:Server} is started in the simulated DRS and watched every {seconds:d} seconds")
def step_watch_job(context, server, seconds):
    """StartRecovery with a plain client, then DescribeJobs every few seconds of clock time."""
    changed(context)
    drs = world(context)
    client = drs.client("drs")
    job = client.start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=True)["job"]
    context.watched_job, context.watched_server = job["jobID"], server
    context.observed = []  # (seconds after creation, job status, launchStatus, job)
    created = epoch(job["creationDateTime"])
    for _ in range(int(900 / seconds)):
        [now] = client.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"]
        launch = now["participatingServers"][0]["launchStatus"]
        context.observed.append((drs.clock.wall() - created, now["status"], launch, now))
        if now["status"] == "COMPLETED":
            break
        drs.clock.sleep(seconds)
    context.watch_interval = seconds


@then("the job went through these states, each entered within the simulator's timing")
def step_job_timeline(context):
    """The states seen in order; the engine's reading of each; when DRS entered each (job log)."""
    distinct = []
    for after, status, launch, job in context.observed:
        if not distinct or distinct[-1][:2] != (status, launch):
            distinct.append((status, launch, job_progress(job).status, after))
    assert_that([d[:3] for d in distinct], equal_to(
        [(r["DRS job status"], r["launchStatus"], r["the engine reads it as"]) for r in context.table]))
    log = {e["event"]: epoch(e["logDateTime"]) for e in world(context).job_log(context.watched_job)}
    [job] = world(context).jobs(job_ids=[context.watched_job])
    created = epoch(job["creationDateTime"])
    entered = {"PENDING": created, "STARTED": log["JOB_START"], "COMPLETED": log["JOB_END"]}
    for row, (status, _, _, seen_after) in zip(context.table, distinct, strict=True):
        after = entered[status] - created
        low, _, high = row["entered after seconds"].partition(" to ")
        assert_that(after, greater_than_or_equal_to(float(low) - 0.001), status)
        assert_that(after, less_than_or_equal_to(float(high or low) + 0.001), status)
        assert_that(seen_after - after, less_than(context.watch_interval + 0.001), status)


@when("a DRS client that does not retry calls {operation:Operation} once per fault injected")
def step_faults_seen(context, operation):
    """Inject each fault for one call, make the call, note what the client saw."""
    drs = world(context)
    client = drs.client("drs", retries=False)
    call = getattr(client, _snake(operation))
    context.seen = []
    for row in context.table:
        drs.control.inject(operation, row["fault"], count=1, code=row["code"] or None,
                           status=int(row["status"]) if row["status"] else None)
        try:
            call()
            context.seen.append(("no error", "200"))
        except ClientError as error:
            context.seen.append((error.response["Error"]["Code"],
                                 str(error.response["ResponseMetadata"]["HTTPStatusCode"])))
        except ConnectionClosedError as error:
            context.seen.append((type(error).__name__, "none"))


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


@then("the client saw, in turn")
def step_client_saw(context):
    """Error code (or exception) and HTTP status of each call."""
    assert_that(context.seen, equal_to([(r["error"], r["HTTP status"]) for r in context.table]))


@then("the simulator counted {count:d} faulted {operation:Operation} calls")
def step_faulted_count(context, count, operation):
    """The simulator's own count of faulted calls."""
    calls = world(context).control.calls()
    assert_that((calls["faulted"].get(operation, 0), calls["operations"].get(operation, 0)),
                equal_to((count, count)))


@given("the network guard of the offline target is installed in this process")
def step_guard_installed(context):
    """The guard is on, and what it blocked so far is noted."""
    assert_that(network_guard.installed(), is_(True))
    context.blocked_before = len(network_guard.blocked_attempts())


@then("the network guard blocked no connection while the engine ran")
def step_guard_quiet(context):
    """No attempt outside 127.0.0.0/8 since the guard was checked."""
    assert_that(network_guard.blocked_attempts()[context.blocked_before:], empty())


def _loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


@then("AWS_ENDPOINT_URL and every AWS client of the engine point at 127.0.0.1")
def step_endpoints_loopback(context):
    """The environment, and the endpoint of each client the engine used."""
    drs = world(context)
    assert_that(os.environ["AWS_ENDPOINT_URL"], equal_to(drs.url))
    assert_that(_loopback(drs.url), is_(True))
    home = drs.engine().accounts.home()
    for service in ("drs", "ec2", "dynamodb", "sns", "sts"):
        assert_that(_loopback(home.client(service).meta.endpoint_url), is_(True), service)


@then("a connection to the real DRS endpoint is refused by the guard before anything leaves the machine")
def step_guard_refuses(context):
    """With the guard on, even the name lookup of the real endpoint is refused."""
    assert_that(network_guard.installed(), is_(True))  # never probe without the guard
    host = "drs.us-east-1.amazonaws.com"
    try:
        socket.create_connection((host, 443), timeout=1).close()
        refused = None
    except network_guard.BlockedConnection as error:
        refused = error
    assert_that(refused, instance_of(network_guard.BlockedConnection))
    assert_that(network_guard.blocked_attempts()[-1], equal_to(f"{host}:443"))


# -- R11.5: every operation, both ways -------------------------------------------------------

INJECTED = {"InternalServerException": ("error", 500), "AccessDeniedException": ("error", 403),
            "ThrottlingException": ("throttle", 429)}
UNKNOWN_JOB, UNKNOWN_SERVER, UNKNOWN_INSTANCE = "drsjob-00000000000000000", "s-00000000000000000", \
    "i-00000000000000000"


class OperationProbes:
    """Call each DRS operation to succeed, then to fail, with a client that does not retry."""

    def __init__(self, world, server: str) -> None:
        self.world = world
        self.drs = world.client("drs", retries=False)
        self.server = server
        self.job = ""
        self.instance = ""

    def succeed(self, operation: str) -> dict:
        drs, server = self.drs, self.server
        if operation == "StartRecovery":
            response = drs.start_recovery(sourceServers=[{"sourceServerID": server}], isDrill=True)
            self.job = response["job"]["jobID"]
            return response
        if operation == "DescribeJobs":
            return drs.describe_jobs(filters={"jobIDs": [self.job]})
        if operation == "DescribeJobLogItems":
            return drs.describe_job_log_items(jobID=self.job)
        if operation == "DescribeSourceServers":
            return drs.describe_source_servers(filters={"sourceServerIDs": [server]})
        if operation == "DescribeRecoveryInstances":
            self.world.clock.sleep(900)  # the launch completes
            response = drs.describe_recovery_instances(filters={"sourceServerIDs": [server]})
            self.instance = response["items"][0]["recoveryInstanceID"]
            return response
        if operation == "DescribeRecoverySnapshots":
            return drs.describe_recovery_snapshots(sourceServerID=server)
        if operation == "TerminateRecoveryInstances":
            return drs.terminate_recovery_instances(recoveryInstanceIDs=[self.instance])
        raise AssertionError(f"no probe for {operation}")

    def fail(self, operation: str, how: str) -> tuple:
        drs = self.drs
        if how.startswith("an injected "):
            kind, status = INJECTED[how[len("an injected "):]]
            code = how[len("an injected "):]
            self.world.control.inject(operation, kind, count=1, code=code, status=status)
            return call_and_catch(lambda: self.succeed(operation))
        failures = {
            ("StartRecovery", "a server already in an active job"):
                lambda: drs.start_recovery(sourceServers=[{"sourceServerID": self.server}]),
            ("DescribeJobLogItems", "an unknown job id"): lambda: drs.describe_job_log_items(jobID=UNKNOWN_JOB),
            ("DescribeRecoverySnapshots", "an unknown source server"):
                lambda: drs.describe_recovery_snapshots(sourceServerID=UNKNOWN_SERVER),
            ("TerminateRecoveryInstances", "an unknown recovery instance"):
                lambda: drs.terminate_recovery_instances(recoveryInstanceIDs=[UNKNOWN_INSTANCE]),
        }
        if (operation, how) not in failures:
            raise AssertionError(f"no way to make {operation} fail with {how!r}")
        return call_and_catch(failures[(operation, how)])


@when("each DRS operation is called once to succeed and once to fail")
def step_probe_operations(context):
    """For each row: the operation's success call, then its failure."""
    changed(context)
    probes = OperationProbes(world(context), world(context).test_servers[0])
    context.probes = []
    for row in context.table:
        probe = Probe(row["operation"], probes.succeed(row["operation"]))
        _, probe.error_code, probe.error_status = probes.fail(row["operation"], row["to fail"])
        context.probes.append(probe)


@then("every success matched botocore's output shape for its operation")
def step_probe_shapes(context):
    """Each success response against the API model."""
    drs = world(context).client("drs")
    for probe in context.probes:
        assert_that(shape_problems(drs, probe.operation, probe.response), empty(), probe.operation)


@then("every failure came back as the DRS error")
def step_probe_errors(context):
    """Error code and HTTP status of each failure."""
    assert_that([(p.operation, p.error_code, str(p.error_status)) for p in context.probes],
                equal_to([(r["operation"], r["error code"], r["HTTP status"]) for r in context.table]))


@when("a recovery of {first:Server} and {second:Server} runs to its end in the simulated DRS")
def step_two_server_recovery(context, first, second):
    """StartRecovery of both (after any earlier job of theirs ended), then wait on the clock."""
    changed(context)
    drs = world(context)
    drs.clock.sleep(900)
    client = drs.client("drs")
    job = client.start_recovery(sourceServers=[{"sourceServerID": first}, {"sourceServerID": second}],
                                isDrill=True)["job"]
    drs.clock.sleep(900)
    context.pair_job = job["jobID"]


@then('the engine\'s DRS layer reads {first:Server} as COMPLETED, and {second:Server} as FAILED with "{reason}"')
def step_engine_reads_pair(context, first, second, reason):
    """The engine's own DRS module (jobs.DrsJobs) on that job: progress and failure reasons."""
    drs = world(context)
    layer = DrsJobs(drs.client("drs"), drs.clock.wall)
    progress = layer.progress([context.pair_job], [first, second])[context.pair_job]
    assert_that({sid: s.status for sid, s in progress.servers.items()},
                equal_to({first: "COMPLETED", second: "FAILED"}))
    assert_that(layer.failure_messages(context.pair_job), equal_to({second: reason}))


# -- R12: test data --------------------------------------------------------------------------

@when("the protection groups of the test data are read")
def step_read_groups(context):
    """fixtures/drs/plans/protection_groups.json."""
    context.groups = protection_groups()


@then("they are")
def step_groups_are(context):
    """Ids, names and servers of the protection groups."""
    found = [(g["ProtectionGroupId"], g["Name"], ", ".join(g["SourceServerIds"]))
             for g in context.groups["ProtectionGroups"]]
    assert_that(found, equal_to([(r["ProtectionGroupId"], r["Name"], r["SourceServerIds"]) for r in context.table]))


@then("DRS replicates each of their servers in CONTINUOUS state, tagged with its group's Name")
def step_groups_in_drs(context):
    """DescribeSourceServers for every server of every group."""
    for group in context.groups["ProtectionGroups"]:
        servers = world(context).source_servers(group["SourceServerIds"])
        assert_that(sorted(s["sourceServerID"] for s in servers), equal_to(sorted(group["SourceServerIds"])))
        for server in servers:
            assert_that(server["dataReplicationInfo"]["dataReplicationState"], equal_to("CONTINUOUS"))
            assert_that(server["tags"].get("ProtectionGroup"), equal_to(group["Name"]))


SHAPES = {
    "a single wave": lambda plan: len(plan.waves) == 1,
    "several waves with dependencies": lambda plan: len(plan.waves) > 1 and all(
        w.depends_on for w in plan.waves if w.wave_number != min(x.wave_number for x in plan.waves)),
    "a PARALLEL wave of 6 servers": lambda plan: any(
        w.execution_type == "PARALLEL" and len(w.servers) == 6 for w in plan.waves),
    "a SEQUENTIAL wave": lambda plan: any(w.execution_type == "SEQUENTIAL" for w in plan.waves),
}


@when("the engine validates each of these recovery plans")
def step_validate_each(context):
    """The engine's plan validation (``validate_plan``, no AWS call) of each listed fixture plan."""
    groups = protection_groups()
    context.validated = [(row["plan"], row["shape"], validate_plan(plan_named(row["plan"]), groups))
                         for row in context.table]


@then("each plan is valid and has its shape")
def step_shapes(context):
    """The shape of each validated plan."""
    for name, shape, plan in context.validated:
        assert_that(SHAPES[shape](plan), is_(True), f"{name} is not {shape}")


@then("a scenario of this suite executes each of them and checks how the execution ended")
def step_plans_used(context):
    """Scan features/drs: for each plan, a scenario loads it, executes it and checks the outcome."""
    from behave.parser import parse_file

    used = {}
    for path in sorted(FEATURES.glob("*.feature")):
        for scenario in parse_file(str(path)).walk_scenarios():
            texts = [step.name for step in scenario.steps]
            named = [t[len('the recovery plan "'):-1] for t in texts if t.startswith('the recovery plan "')]
            if named and "the plan is executed" in texts and any(t.startswith("the execution ends ") for t in texts):
                used.setdefault(named[0], []).append(scenario.name)
    for name, _, _ in context.validated:
        assert_that(used.get(name, []), is_not(empty()), f"no scenario executes {name}")


@when("each of these recovery plans is started")
def step_start_each(context):
    """``engine.start`` of each listed fixture plan; the errors are kept."""
    changed(context)
    drs = world(context)
    engine = drs.engine()
    context.mark = drs.calls.mark()
    context.drs_calls_before = drs.control.calls()["total"]
    context.refusals = []
    for row in context.table:
        try:
            engine.start(plan_named(row["plan"]), protection_groups())
            error = None
        except Exception as caught:  # noqa: BLE001 - the refusal is what is checked
            error = caught
        context.refusals.append((row["plan"], row["refused because"], error))


@then("each was refused with a PlanValidationError giving that reason")
def step_refused(context):
    """Type of each error; its reason among the problems it lists."""
    for plan, reason, error in context.refusals:
        assert_that(error, instance_of(PlanValidationError), plan)
        assert_that(error.problems, has_item(contains_string(reason)), plan)
        assert_that(str(error), contains_string(reason))


@then("the engine made no AWS call while starting them, and DRS received none")
def step_no_calls(context):
    """The engine's recorder and the simulator's count since the starts began."""
    assert_that([f"{c.service}.{c.operation}" for c in world(context).calls.of(since=context.mark)], empty())
    assert_that(world(context).control.calls()["total"], equal_to(context.drs_calls_before))


@then("every field name in the test plans and protection groups is PascalCase")
def step_fixture_pascal(context):
    """Every key of every plan file and of the protection groups."""
    documents = {name: plan_named(name) for name in PLAN_FILES}
    documents["protection_groups"] = protection_groups()
    assert_that(documents, has_length(len(PLAN_FILES) + 1))
    for name, document in documents.items():
        bad = [f"{path}.{key}" for path, key in field_names(document) if not PASCAL_CASE.match(key)]
        assert_that(bad, empty(), name)


@then("every attribute name of the execution's record in DynamoDB is PascalCase, nested ones too")
def step_record_pascal(context):
    """The raw item's attributes, the nested ones, and the Plan and ProtectionGroups it stores."""
    record = latest_record(context)
    documents = {"record": record, "Plan": json.loads(record["Plan"]),
                 "ProtectionGroups": json.loads(record["ProtectionGroups"])}
    for name, document in documents.items():
        bad = [f"{path}.{key}" for path, key in field_names(document) if not PASCAL_CASE.match(key)]
        assert_that(bad, empty(), name)


@then("the history table is keyed by ExecutionId, with its index on PlanId and StartTime")
def step_table_schema(context):
    """DescribeTable: key schema, attribute definitions, the PlanId index."""
    table = world(context).client("dynamodb").describe_table(TableName=world(context).table)["Table"]
    assert_that(table["KeySchema"], equal_to([{"AttributeName": "ExecutionId", "KeyType": "HASH"}]))
    [index] = table["GlobalSecondaryIndexes"]
    assert_that((index["IndexName"], index["KeySchema"]), equal_to((PLAN_INDEX, [
        {"AttributeName": "PlanId", "KeyType": "HASH"}, {"AttributeName": "StartTime", "KeyType": "RANGE"}])))
    assert_that([a["AttributeName"] for a in table["AttributeDefinitions"]],
                only_contains(matches_regexp(PASCAL_CASE.pattern)))
