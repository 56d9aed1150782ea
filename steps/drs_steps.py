"""@drs steps shared by every requirement, and those of wave orchestration (R1), the DRS API (R2)
and health checks (R3). The world (clock, simulator, engine, recorders) is ``context.drs``, set
up by ``@fixture.drs`` (gauntlet/local/drs/fixture.py); helpers live in ``drs_support``."""

from __future__ import annotations

from itertools import pairwise

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    greater_than_or_equal_to,
    has_item,
    has_length,
    is_,
    is_not,
    less_than,
    less_than_or_equal_to,
    only_contains,
)

from drs_support import (
    changed,
    MS,
    SIMULATOR_ONLY,
    Execution,
    drs_operations,
    epoch,
    jobs_holding,
    latest_record,
    plan_named,
    protection_groups,
    run_plan,
    server_of,
    servers_of,
    set_path,
    table_value,
    wave_of,
    world,
)
from gauntlet.clock import real_clock

# -- the world -------------------------------------------------------------------------------

@given("the DRS simulator and the engine share one virtual clock")
def step_simulated_world(context):
    """Fresh simulator state, history table and call recorder for this scenario (offline only)."""
    if not world(context).offline:
        context.scenario.skip(SIMULATOR_ONLY)
        return
    world(context).begin_scenario(context)


# -- plans -----------------------------------------------------------------------------------

@given('the recovery plan "{name}"')
def step_plan(context, name):
    """Load a plan (and the protection groups) from fixtures/drs/plans."""
    context.plan = plan_named(name)
    context.groups = protection_groups()


@given("the plan sets")
def step_plan_sets(context):
    """Set top-level plan fields from a field/value table (values read as JSON when they parse)."""
    for row in context.table:
        set_path(context.plan, row["field"], table_value(row["value"]))


@given("wave {number:d} sets")
def step_wave_sets(context, number):
    """Set fields of one wave (dotted paths such as HealthCheck.Enabled)."""
    for row in context.table:
        set_path(wave_of(context.plan, number), row["field"], table_value(row["value"]))


@given("every wave sets")
def step_every_wave_sets(context):
    """Set the same fields on every wave of the plan."""
    for wave in context.plan["Waves"]:
        for row in context.table:
            set_path(wave, row["field"], table_value(row["value"]))


@given("the servers of wave {number:d} have these execution orders")
def step_execution_orders(context, number):
    """Change the ExecutionOrder of servers of a wave."""
    servers = {s["SourceServerId"]: s for s in wave_of(context.plan, number)["Servers"]}
    for row in context.table:
        servers[row["server"]]["ExecutionOrder"] = int(row["ExecutionOrder"])


@given("{server:Server} is to be recovered from its recovery snapshot taken {minutes:d} minutes ago")
def step_recover_from_snapshot(context, server, minutes):
    """Pick the server's DRS snapshot of that age and put its id in the plan."""
    wanted = world(context).clock.wall() - minutes * 60
    snapshot = min(world(context).snapshots(server), key=lambda s: abs(epoch(s["timestamp"]) - wanted))
    assert_that(abs(epoch(snapshot["timestamp"]) - wanted), less_than(120),
                f"{server} has no recovery snapshot about {minutes} minutes old")
    context.snapshot = snapshot
    context.snapshot_age = minutes
    for wave in context.plan["Waves"]:
        for entry in wave.get("Servers", []):
            if entry["SourceServerId"] == server:
                entry["RecoverySnapshotId"] = snapshot["snapshotID"]


@given("wave {number:d} also recovers {server:Server}, which its protection group lists but DRS does not know")
def step_unknown_server(context, number, server):
    """Add a well-formed server id that DRS has never seen to a wave and to its protection group."""
    assert_that([s["sourceServerID"] for s in world(context).source_servers()], is_not(has_item(server)))
    wave = wave_of(context.plan, number)
    wave["Servers"].append({"SourceServerId": server, "ExecutionOrder": len(wave["Servers"]) + 1})
    group = next(g for g in context.groups["ProtectionGroups"]
                 if g["ProtectionGroupId"] == wave["ProtectionGroupId"])
    group["SourceServerIds"].append(server)


@given('the plan gains a wave {number:d} recovering "{group}" after wave {previous:d}')
def step_add_wave(context, number, group, previous):
    """Append a PARALLEL wave recovering every server of a protection group."""
    members = next(g for g in context.groups["ProtectionGroups"] if g["ProtectionGroupId"] == group)
    context.plan["Waves"].append({
        "WaveNumber": number, "WaveName": members["Name"], "ProtectionGroupId": group,
        "ExecutionType": "PARALLEL", "DependsOn": [previous], "WaitTimeSeconds": 0,
        "Servers": [{"SourceServerId": sid, "ExecutionOrder": i + 1}
                    for i, sid in enumerate(members["SourceServerIds"])]})


# -- the simulated DRS -----------------------------------------------------------------------

@given('the next recovery of {server:Server} fails with "{message}"')
@when('the next recovery of {server:Server} fails with "{message}"')
def step_fail_next_recovery(context, server, message):
    """Arm the simulator: the server's next launch ends FAILED with a LAUNCH_FAILED log entry."""
    world(context).control.fail_next_recovery(server, message)


@given("DRS throttles the next {operation:Operation} call")
@given("DRS throttles the next {count:d} {operation:Operation} calls")
def step_throttle(context, operation, count=1):
    """The next calls of the operation get HTTP 429 ThrottlingException from the simulator."""
    world(context).control.inject(operation, "throttle", count=count)


@given("the network to DRS drops the next {count:d} calls")
def step_drop_calls(context, count):
    """The next DRS calls of any operation have their connection closed without an answer."""
    world(context).control.inject("*", "timeout", count=count)


@given("the simulated DRS keeps a job {pending:d} seconds pending and takes {launch:d} seconds to launch a server")
def step_timing(context, pending, launch):
    """Fix the simulator's job timing for jobs created from now on."""
    world(context).control.set_timing(pending=pending, launch=launch)


@given("the simulated DRS launches each server in {low:d} to {high:d} seconds")
def step_launch_timing(context, low, high):
    """Launch durations for jobs created from now on (the simulator's default is 120 to 360 s)."""
    world(context).control.set_timing(launch=(low, high))


@given("the recovery instance of {server:Server} stays pending")
def step_stuck_pending(context, server):
    """The server's next recovery instance stays in EC2 state pending."""
    world(context).control.stuck_pending(server)


@given("the recovery instance of {server:Server} stays pending until {seconds:d} seconds into its health check")
def step_pending_then_running(context, server, seconds):
    """Held pending; started in EC2 that long after the engine's first DescribeInstanceStatus."""
    drs = world(context)
    drs.control.stuck_pending(server)

    def start_instance():
        [instance] = drs.recovery_instances(source_server_ids=[server])
        drs.client("ec2").start_instances(InstanceIds=[instance["ec2InstanceID"]])

    drs.engine()  # its clients are recorded from now on
    drs.calls.on_first("DescribeInstanceStatus", lambda call: drs.clock.after(seconds, start_instance))


# -- running the engine ----------------------------------------------------------------------

@given("the plan has been executed")
@when("the plan is executed")
def step_execute(context):
    """Start the plan and drive it to its end, as ``ExecutionEngine.execute`` does."""
    changed(context)
    context.execution = run_plan(world(context), context.plan, context.groups)
    context.executions = getattr(context, "executions", []) + [context.execution]


@when("the plan is executed, expecting an error")
def step_execute_expecting_error(context):
    """Execute the plan and keep the exception it ends with."""
    changed(context)
    context.error = None
    try:
        run_plan(world(context), context.plan, context.groups)
    except Exception as error:  # noqa: BLE001 - the error is what the scenario checks
        context.error = error
    assert_that(context.error, is_not(None), "the execution ended without an error")


@when("the plan is started")
def step_start(context):
    """``engine.start``: validate and record a RUNNING execution."""
    changed(context)
    drs = world(context)
    context.started_clock = drs.clock.wall()
    execution_id = drs.engine().start(context.plan, context.groups)
    drs.watch_plan_account(context.plan)
    context.execution = Execution(execution_id, {}, 0.0, 0.0, context.started_clock, 0.0)


@when("the plan is started again")
def step_start_again(context):
    """Start the same plan a second time."""
    changed(context)
    context.second_id = world(context).engine().start(context.plan, context.groups)


@when("the plan is started, expecting an error")
def step_start_expecting_error(context):
    """``engine.start`` and keep the exception it raises."""
    changed(context)
    context.error = None
    try:
        world(context).engine().start(context.plan, context.groups)
    except Exception as error:  # noqa: BLE001 - the error is what the scenario checks
        context.error = error
    assert_that(context.error, is_not(None), "the start did not fail")


@when("the execution runs to its end")
def step_run(context):
    """``engine.run`` on the started execution."""
    changed(context)
    drs = world(context)
    wall, began = real_clock.now(), drs.clock.now()
    status = drs.engine().run(context.execution.execution_id)
    context.execution = Execution(context.execution.execution_id, status, real_clock.now() - wall,
                                  drs.clock.now() - began, context.execution.started_at, drs.clock.wall())


@when("the user cancels the execution {seconds:d} seconds after it started")
def step_cancel_later(context, seconds):
    """Schedule ``engine.cancel`` at that point of the run (on the shared clock)."""
    drs = world(context)
    execution_id = context.execution.execution_id
    context.cancel_accepted = None

    def cancel():
        context.cancel_accepted = drs.engine().cancel(execution_id)

    drs.clock.after(context.execution.started_at + seconds - drs.clock.wall(), cancel)


@when("the execution is driven tick by tick, reading DRS after each tick")
def step_tick_by_tick(context):
    """``engine.step`` tick after tick; after each poll, note DescribeJobs's and the history's statuses."""
    changed(context)
    drs = world(context)
    engine = drs.engine()
    execution_id = engine.start(context.plan, context.groups)
    context.execution = Execution(execution_id, {}, 0.0, 0.0, drs.clock.wall(), 0.0)
    context.ticks = []
    for _ in range(200):
        mark = drs.calls.mark()
        tick = engine.step(execution_id)
        polled = bool(drs.calls.of("drs", "DescribeJobs", since=mark))
        record = drs.record(execution_id)
        for server in servers_of(record):
            if polled and server["JobId"]:
                [job] = drs.jobs(job_ids=[server["JobId"]])
                launch = next(p["launchStatus"] for p in job["participatingServers"]
                              if p["sourceServerID"] == server["SourceServerId"])
                context.ticks.append((job["status"], launch, server["JobStatus"], server["Status"]))
        if tick["Done"]:
            return
        drs.clock.sleep(tick["WaitSeconds"])
    raise AssertionError("the execution did not end within 200 ticks")


# -- outcome ---------------------------------------------------------------------------------

@then("the execution ends {status:Status}")
def step_execution_ends(context, status):
    """The record's final Status."""
    record = latest_record(context)
    assert_that(record["Status"], equal_to(status), f"execution error: {record['Error']}")


@then('the execution ends {status:Status} with the error "{error}"')
def step_execution_ends_with(context, status, error):
    """The record's final Status and Error."""
    record = latest_record(context)
    assert_that((record["Status"], record["Error"]), equal_to((status, error)))


@then("the waves ended")
def step_waves_ended(context):
    """Each wave's final status (and, where the table gives one, a part of its error)."""
    record = latest_record(context)
    for row in context.table:
        wave = wave_of(record, int(row["wave"]))
        assert_that(wave["Status"], equal_to(row["status"]), f"wave {row['wave']}: {wave['Error']}")
        if "error" in row.headings and row["error"]:
            assert_that(wave["Error"], contains_string(row["error"]))


@then("DRS received exactly {count:d} {operation:Operation} call")
@then("DRS received exactly {count:d} {operation:Operation} calls")
def step_drs_received(context, count, operation):
    """How many calls of the operation the simulator received (attempts, retries included)."""
    assert_that(drs_operations(context)["operations"].get(operation, 0), equal_to(count))


@then("DRS received no call at all")
def step_drs_received_nothing(context):
    """The simulator counted no request."""
    assert_that(drs_operations(context)["total"], equal_to(0))


@then("DRS answered {total:d} {operation:Operation} calls, {faulted:d} of them with ThrottlingException")
def step_drs_answered_throttled(context, total, operation, faulted):
    """Calls and injected throttles the simulator counted for the operation."""
    calls = drs_operations(context)
    assert_that((calls["operations"].get(operation, 0), calls["faulted"].get(operation, 0)),
                equal_to((total, faulted)))


@then("DRS saw {count:d} attempts of {operation:Operation}, every one of them dropped")
def step_drs_saw_dropped(context, count, operation):
    """Attempts of the operation the simulator counted, all of them faulted."""
    calls = drs_operations(context)
    assert_that((calls["operations"].get(operation, 0), calls["faulted"].get(operation, 0)),
                equal_to((count, count)))


@then("the engine spaced its {operation:Operation} attempts with exponential backoff on the clock")
def step_backoff(context, operation):
    """Clock time between the engine's attempts, within botocore's bounds (rand(0,1) x base x 2^i)."""
    times = [a.at for a in world(context).calls.attempts_of("drs", operation)]
    gaps = [later - earlier for earlier, later in pairwise(times)]
    assert_that(gaps, has_length(len(context.table.rows)), f"attempts at {times}")
    for row, gap in zip(context.table, gaps, strict=True):
        assert_that(gap, less_than_or_equal_to(float(row["waited at most seconds"])),
                    f"retry {row['retry']}")
    assert_that(sum(gaps), greater_than(0), "no backoff was taken on the clock")


@then('every server of wave {number:d} failed with the error "{error}"')
def step_servers_failed_with(context, number, error):
    """Every server of the wave ended FAILED with exactly that error."""
    for server in servers_of(latest_record(context), number):
        assert_that((server["Status"], server["Error"]), equal_to(("FAILED", error)))


@then('every server of wave {number:d} failed with an error containing "{text}"')
def step_servers_failed_containing(context, number, text):
    """Every server of the wave ended FAILED with an error containing the text."""
    for server in servers_of(latest_record(context), number):
        assert_that(server["Status"], equal_to("FAILED"))
        assert_that(server["Error"], contains_string(text))


# -- R1: wave orchestration ------------------------------------------------------------------

@then("the waves started in this order, each after the previous one had ended")
def step_wave_order(context):
    """Waves sorted by their StartTime, each starting at or after the previous one's EndTime."""
    waves = sorted(latest_record(context)["Waves"], key=lambda w: epoch(w["StartTime"]))
    assert_that([(str(w["WaveNumber"]), w["WaveName"]) for w in waves],
                equal_to([(row["wave"], row["name"]) for row in context.table]))
    for earlier, later in pairwise(waves):
        assert_that(epoch(later["StartTime"]), greater_than_or_equal_to(epoch(earlier["EndTime"]) - MS))


@then("DRS created one recovery job per wave, in the same order")
def step_one_job_per_wave(context):
    """DRS's launch jobs, oldest first, each holding exactly the servers of the next wave."""
    record = latest_record(context)
    jobs = world(context).launch_jobs()
    waves = sorted(record["Waves"], key=lambda w: w["WaveNumber"])
    assert_that(jobs, has_length(len(waves)))
    for job, wave in zip(jobs, waves, strict=True):
        assert_that(sorted(p["sourceServerID"] for p in job["participatingServers"]),
                    equal_to(sorted(s["SourceServerId"] for s in wave["Servers"])))


@then("wave {later:d} started only after every server of wave {earlier:d} had passed its health check")
def step_wave_waited(context, later, earlier):
    """The dependent wave's StartTime is after every server of the other wave passed."""
    record = latest_record(context)
    servers = wave_of(record, earlier)["Servers"]
    assert_that({s["HealthCheck"] for s in servers}, equal_to({"PASSED"}))
    assert_that(epoch(wave_of(record, later)["StartTime"]),
                greater_than_or_equal_to(max(epoch(s["EndTime"]) for s in servers)))


@then("DRS created the job of wave {later:d} only after the job of wave {earlier:d} had completed")
def step_job_after_job(context, later, earlier):
    """Creation time of the later wave's DRS job against the end time of the earlier one's."""
    record = latest_record(context)
    [first] = jobs_holding(context, [s["SourceServerId"] for s in wave_of(record, earlier)["Servers"]])
    [second] = jobs_holding(context, [s["SourceServerId"] for s in wave_of(record, later)["Servers"]])
    assert_that(first["status"], equal_to("COMPLETED"))
    assert_that(epoch(second["creationDateTime"]), greater_than_or_equal_to(epoch(first["endDateTime"])))


@then("each next wave started after the pause its previous wave asks for")
def step_pauses(context):
    """Next wave's StartTime minus the previous wave's EndTime: the pause, within one poll."""
    record = latest_record(context)
    poll = world(context).engine().poll_interval
    for row in context.table:
        number, pause = int(row["after wave"]), float(row["pause in seconds"])
        assert_that(wave_of(context.plan, number)["WaitTimeSeconds"], equal_to(pause))
        gap = epoch(wave_of(record, number + 1)["StartTime"]) - epoch(wave_of(record, number)["EndTime"])
        assert_that(gap, greater_than_or_equal_to(pause - MS), f"pause after wave {number}")
        assert_that(gap, less_than(pause + poll), f"pause after wave {number}")


@then("DRS received no StartRecovery call during a pause")
def step_nothing_during_pause(context):
    """No DRS job was created between a wave's end and the next wave's start."""
    record = latest_record(context)
    waves = sorted(record["Waves"], key=lambda w: w["WaveNumber"])
    pauses = [(epoch(a["EndTime"]), epoch(b["StartTime"])) for a, b in pairwise(waves)]
    created = [epoch(job["creationDateTime"]) for job in world(context).launch_jobs()]
    for began, ended in pauses:
        assert_that([t for t in created if began < t < ended], empty())


@then("that call asked for all {count:d} servers of wave {number:d}, and DRS ran them in one job")
def step_one_call_all_servers(context, count, number):
    """The engine's single StartRecovery listed every server; DRS made one job of them."""
    wanted = sorted(s["SourceServerId"] for s in wave_of(context.plan, number)["Servers"])
    [call] = world(context).calls.of("drs", "StartRecovery")
    asked = sorted(s["sourceServerID"] for s in call.params["sourceServers"])
    assert_that(asked, equal_to(wanted))
    assert_that(asked, has_length(count))
    [job] = world(context).launch_jobs()
    assert_that(sorted(p["sourceServerID"] for p in job["participatingServers"]), equal_to(wanted))


@then("every server of wave {number:d} started at the same moment")
def step_same_start(context, number):
    """One StartTime for all the wave's servers in the record."""
    servers = wave_of(latest_record(context), number)["Servers"]
    assert_that({s["StartTime"] for s in servers}, has_length(1))


@then("the servers of wave {number:d} were launched one at a time, each after the one before had recovered")
def step_sequential(context, number):
    """One StartRecovery per server, in order, each DRS job created after the previous server recovered."""
    record = latest_record(context)
    expected = [row["server"] for row in context.table]
    calls = world(context).calls.of("drs", "StartRecovery")
    assert_that([[s["sourceServerID"] for s in c.params["sourceServers"]] for c in calls],
                equal_to([[sid] for sid in expected]))
    servers = {s["SourceServerId"]: s for s in wave_of(record, number)["Servers"]}
    for earlier, later in pairwise(expected):
        [job] = jobs_holding(context, [later])
        assert_that(epoch(job["creationDateTime"]),
                    greater_than_or_equal_to(epoch(servers[earlier]["EndTime"])))
        assert_that(servers[earlier]["Status"], equal_to("COMPLETED"))


# -- R2: DRS API integration -----------------------------------------------------------------

def _snapshot_cell(context, text):
    if text == "none":
        return None
    assert_that(text, equal_to(f"the snapshot taken {context.snapshot_age} minutes ago"))
    return context.snapshot["snapshotID"]


@then("the engine called StartRecovery once, with")
def step_start_recovery_params(context):
    """The engine's one StartRecovery request, server by server (recoverySnapshotID or none)."""
    [call] = world(context).calls.of("drs", "StartRecovery")
    expected = []
    for row in context.table:
        snapshot = _snapshot_cell(context, row["recoverySnapshotID"])
        expected.append({"sourceServerID": row["sourceServerID"],
                         **({"recoverySnapshotID": snapshot} if snapshot else {})})
    assert_that(call.params["sourceServers"], equal_to(expected))


@then("DRS recovered {chosen:Server} from that snapshot and took a new one for {other:Server}")
def step_snapshots_used(context, chosen, other):
    """The job log and the recovery instances show which snapshot each launch used."""
    drs = world(context)
    [job] = drs.launch_jobs()
    events = {(e["event"], e.get("eventData", {}).get("sourceServerID")) for e in drs.job_log(job["jobID"])}
    assert_that(events, has_item(("USING_PREVIOUS_SNAPSHOT", chosen)))
    assert_that(events, is_not(has_item(("SNAPSHOT_START", chosen))))
    assert_that(events, has_item(("SNAPSHOT_END", other)))
    instances = {r["sourceServerID"]: r for r in drs.recovery_instances()}
    assert_that(instances[chosen]["pointInTimeSnapshotDateTime"], equal_to(context.snapshot["timestamp"]))
    assert_that(epoch(instances[other]["pointInTimeSnapshotDateTime"]),
                greater_than_or_equal_to(context.execution.started_at))


@then("every StartRecovery call of the engine had isDrill set to true")
def step_is_drill_sent(context):
    """isDrill in every StartRecovery request the engine sent."""
    calls = world(context).calls.of("drs", "StartRecovery")
    assert_that(calls, is_not(empty()))
    assert_that([c.params.get("isDrill") for c in calls], only_contains(True))


@then("DRS ran the job as a drill and marked its recovery instances as drill instances")
def step_drs_drill(context):
    """initiatedBy START_DRILL on the job; isDrill on every recovery instance."""
    drs = world(context)
    assert_that([j["initiatedBy"] for j in drs.launch_jobs()], only_contains("START_DRILL"))
    instances = drs.recovery_instances()
    assert_that(instances, is_not(empty()))
    assert_that([r["isDrill"] for r in instances], only_contains(True))


@then("the history record says IsDrill is true")
def step_history_drill(context):
    """The record's IsDrill."""
    assert_that(latest_record(context)["IsDrill"], is_(True))


@then("every DescribeJobs call of the engine asked for the job of the wave only")
def step_describe_jobs_filter(context):
    """Each DescribeJobs request filtered on the wave's job id, nothing else."""
    job_ids = {s["JobId"] for s in servers_of(latest_record(context)) if s["JobId"]}
    calls = world(context).calls.of("drs", "DescribeJobs")
    assert_that(calls, is_not(empty()))
    assert_that([c.params for c in calls], only_contains({"filters": {"jobIDs": sorted(job_ids)}}))


@then("after each poll the history showed the status DescribeJobs reported, translated as")
def step_status_translation(context):
    """The (DRS status, launchStatus, JobStatus, server Status) seen after the engine's polls: the table."""
    expected = {(row["DRS job status"], row["DRS launchStatus"], row["history JobStatus"],
                 row["history server Status"]) for row in context.table}
    assert_that(set(context.ticks), equal_to(expected))


@then("{server:Server} failed with an error naming it, the account and the region")
def step_unknown_server_error(context, server):
    """The missing server's error names its id, the account (from STS) and the region."""
    drs = world(context)
    entry = server_of(latest_record(context), server)
    assert_that((entry["Status"], entry["Error"]), equal_to((
        "FAILED", f"source server {server} not found in DRS (account {drs.home_account()}, "
                  f"region {drs.region})")))


@then("no DRS job includes {server:Server}")
def step_no_job_for(context, server):
    """No DRS launch job lists the server."""
    assert_that(jobs_holding(context, [server]), empty())


@then("the other servers of wave {number:d} recovered")
def step_others_recovered(context, number):
    """Every server of the wave that DRS knows ended COMPLETED."""
    known = {s["sourceServerID"] for s in world(context).source_servers()}
    servers = [s for s in wave_of(latest_record(context), number)["Servers"] if s["SourceServerId"] in known]
    assert_that(servers, is_not(empty()))
    assert_that([s["Status"] for s in servers], only_contains("COMPLETED"))


# -- R3: health checks -----------------------------------------------------------------------

def _wave_instances(context, number):
    """The recovery instances DRS reports for the wave's servers: source id -> EC2 instance id."""
    ids = [s["SourceServerId"] for s in wave_of(context.plan, number)["Servers"]]
    return {r["sourceServerID"]: r["ec2InstanceID"]
            for r in world(context).recovery_instances(source_server_ids=ids)}


def _status_calls(context):
    return world(context).calls.of("ec2", "DescribeInstanceStatus")


@then("the engine asked EC2 DescribeInstanceStatus about exactly the recovery instances of wave {number:d}")
def step_health_asked(context, number):
    """The first DescribeInstanceStatus named every recovery instance of the wave; no call named others."""
    instances = set(_wave_instances(context, number).values())
    assert_that(instances, has_length(len(wave_of(context.plan, number)["Servers"])))
    calls = _status_calls(context)
    assert_that(calls, is_not(empty()))
    assert_that(set(calls[0].params["InstanceIds"]), equal_to(instances))
    assert_that({i for c in calls for i in c.params["InstanceIds"]}, equal_to(instances))
    assert_that({s["RecoveryInstanceId"] for s in wave_of(latest_record(context), number)["Servers"]},
                equal_to(instances))


@then("it first asked only after DRS had completed the job of wave {number:d}")
def step_health_after_job(context, number):
    """The first DescribeInstanceStatus came at or after the DRS job's endDateTime."""
    ids = [s["SourceServerId"] for s in wave_of(context.plan, number)["Servers"]]
    [job] = jobs_holding(context, ids)
    assert_that(_status_calls(context)[0].at, greater_than_or_equal_to(epoch(job["endDateTime"])))


@then("EC2 reports every recovery instance of wave {number:d} as running")
def step_ec2_running(context, number):
    """DescribeInstances in moto: every recovery instance of the wave is running."""
    instances = list(_wave_instances(context, number).values())
    assert_that(instances, is_not(empty()))
    assert_that(list(world(context).instance_states(instances).values()), only_contains("running"))


@then("the history marks every server of wave {number:d} {status:Status}, health check {check:Status}, "
      "instance {state}")
def step_history_health(context, number, status, check, state):
    """Status, HealthCheck and InstanceState of every server of the wave in the record."""
    servers = wave_of(latest_record(context), number)["Servers"]
    assert_that([(s["Status"], s["HealthCheck"], s["InstanceState"]) for s in servers],
                only_contains((status, check, state)))


@then("the history marks every server of wave {number:d} {status:Status} with health check {check:Status}")
def step_history_health_skipped(context, number, status, check):
    """Status and HealthCheck of every server of the wave in the record."""
    servers = wave_of(latest_record(context), number)["Servers"]
    assert_that([(s["Status"], s["HealthCheck"]) for s in servers], only_contains((status, check)))


@then("the health check asked EC2 about {server:Server} {count:d} times, {interval:d} seconds apart")
def step_health_polls(context, server, count, interval):
    """DescribeInstanceStatus calls naming the server's instance: how many, how far apart."""
    context.instance_id = server_of(latest_record(context), server)["RecoveryInstanceId"]
    times = [c.at for c in _status_calls(context) if context.instance_id in c.params["InstanceIds"]]
    assert_that(times, has_length(count))
    assert_that([round(b - a, 3) for a, b in pairwise(times)], only_contains(interval))


@then("{server:Server} passed its health check {seconds:d} seconds after the check began")
def step_passed_after(context, server, seconds):
    """HealthCheck PASSED, EndTime minus HealthCheckStartTime."""
    entry = server_of(latest_record(context), server)
    assert_that((entry["Status"], entry["HealthCheck"]), equal_to(("COMPLETED", "PASSED")))
    took = epoch(entry["EndTime"]) - epoch(entry["HealthCheckStartTime"])
    assert_that(abs(took - seconds), less_than(MS), f"passed after {took} s")


@then("{server:Server} failed because its instance was not running after {detail}")
def step_health_failed(context, server, detail):
    """The server's error names its instance and the health-check verdict."""
    entry = server_of(latest_record(context), server)
    context.instance_id = entry["RecoveryInstanceId"]
    assert_that((entry["Status"], entry["HealthCheck"], entry["Error"]),
                equal_to(("FAILED", "FAILED", f"instance {context.instance_id} not running after {detail}")))


@then("EC2 still reports that instance as pending")
def step_still_pending(context):
    """moto's state of the instance the previous step named."""
    states = world(context).instance_states([context.instance_id])
    assert_that(states, equal_to({context.instance_id: "pending"}))


@then("the engine never asked EC2 about the recovery instances of wave {number:d}")
def step_no_health_check(context, number):
    """No DescribeInstanceStatus call named an instance of the wave."""
    instances = set(_wave_instances(context, number).values())
    assert_that(instances, is_not(empty()))
    asked = {i for c in _status_calls(context) for i in c.params["InstanceIds"]}
    assert_that(asked & instances, empty())


@then("wave {number:d} ended at the very poll that saw its DRS job complete")
def step_ended_at_poll(context, number):
    """The wave's EndTime is the time of the first DescribeJobs after the job's endDateTime."""
    wave = wave_of(latest_record(context), number)
    [job] = jobs_holding(context, [s["SourceServerId"] for s in wave["Servers"]])
    polls = [c.at for c in world(context).calls.of("drs", "DescribeJobs")
             if job["jobID"] in c.params.get("filters", {}).get("jobIDs", [])
             and c.at >= epoch(job["endDateTime"])]
    assert_that(polls, is_not(empty()))
    assert_that(abs(epoch(wave["EndTime"]) - polls[0]), less_than(0.002))
