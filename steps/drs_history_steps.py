"""@drs steps of error handling (R4), execution history (R5) and the clean-up of test data
(R12.5, R10.3): what the record in DynamoDB says, checked against what DRS and EC2 say."""

from __future__ import annotations

from behave import then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    has_item,
    has_length,
    is_,
    is_in,
    is_not,
    less_than,
    only_contains,
    starts_with,
)

from drs_support import (
    changed,
    ISO_UTC,
    MS,
    epoch,
    format_problem,
    jobs_holding,
    latest_record,
    null_paths,
    server_of,
    servers_of,
    wave_of,
    world,
)
from gauntlet.clock import real_clock


def _launch_failure(context, job_id: str, server: str) -> str:
    """The rawError of the LAUNCH_FAILED entry DRS logged for the server in the job."""
    entries = [e for e in world(context).job_log(job_id) if e["event"] == "LAUNCH_FAILED"
               and e.get("eventData", {}).get("sourceServerID") == server]
    assert_that(entries, has_length(1), f"LAUNCH_FAILED entries for {server} in {job_id}")
    return entries[0]["eventData"]["rawError"]


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# -- R4: error handling ----------------------------------------------------------------------

@then("the history keeps the failure message DRS logged for {server:Server}")
def step_history_keeps_drs_message(context, server):
    """The server's Error in the record carries DRS's own rawError and the job id."""
    entry = server_of(latest_record(context), server)
    context.drs_message = _launch_failure(context, entry["JobId"], server)
    assert_that(entry["Status"], equal_to("FAILED"))
    assert_that(entry["Error"], equal_to(f"DRS job {entry['JobId']} failed for {server}: "
                                         f"LAUNCH_FAILED: {context.drs_message}"))


@then("the execution's error names wave {number:d} and that message")
def step_execution_error_names(context, number):
    """The execution's Error points at the wave and repeats DRS's message."""
    record = latest_record(context)
    assert_that(record["Error"], starts_with(f"wave {number} ({wave_of(record, number)['WaveName']}) failed"))
    assert_that(record["Error"], contains_string(context.drs_message))


@then("no DRS job includes a server of wave {number:d}")
def step_no_job_for_wave(context, number):
    """No DRS launch job lists any server of the wave."""
    ids = [s["SourceServerId"] for s in wave_of(context.plan, number)["Servers"]]
    assert_that(jobs_holding(context, ids), empty())


@then("it ended after exactly {seconds:d} seconds on the clock")
def step_ended_after(context, seconds):
    """Duration in the record, and the clock time the run took."""
    assert_that(latest_record(context)["Duration"], equal_to(seconds))
    assert_that(abs(context.execution.clock_seconds - seconds), less_than(MS))


@then("the wave running at the deadline failed with that reason, and the waves after it were skipped")
def step_deadline_waves(context):
    """Waves done before the deadline COMPLETED, the running one FAILED with its reason, the rest SKIPPED."""
    record = latest_record(context)
    deadline = epoch(record["StartTime"]) + record["ExecutionTimeoutSeconds"]
    running = [w for w in record["Waves"] if w["StartTime"] and epoch(w["EndTime"]) >= deadline - MS]
    assert_that(running, has_length(1))
    assert_that((running[0]["Status"], running[0]["Error"]), equal_to(("FAILED", record["Error"])))
    assert_that([s["Error"] for s in running[0]["Servers"] if s["Status"] == "FAILED"],
                only_contains(record["Error"]))
    for wave in record["Waves"]:
        if wave is running[0]:
            continue
        expected = "COMPLETED" if wave["StartTime"] else "SKIPPED"
        assert_that(wave["Status"], equal_to(expected), f"wave {wave['WaveNumber']}")


@then("cancelling the execution again is refused, since it has ended")
def step_cancel_again(context):
    """``engine.cancel`` answers False; the record keeps CANCELLED and CancelRequested."""
    assert_that(context.cancel_accepted, is_(True), "the scheduled cancel did not happen")
    assert_that(world(context).engine().cancel(context.execution.execution_id), is_(False))
    record = latest_record(context)
    assert_that((record["Status"], record["CancelRequested"]), equal_to(("CANCELLED", True)))


# -- R5: execution history -------------------------------------------------------------------

VALUES = {
    "the id the start returned": lambda context: context.execution.execution_id,
    "the clock's time, as ISO 8601 UTC": lambda context: _iso(context.started_clock),
    "empty": lambda context: "",
}


@then("DynamoDB holds the execution's record with")
def step_raw_record(context):
    """The raw item (GetItem by this test, not the engine): attribute types and values."""
    item = world(context).raw_record(context.execution.execution_id)
    assert_that(item, is_not(None), "no item in DynamoDB")
    for row in context.table:
        name, kind = row["attribute"], row["DynamoDB type"]
        value = VALUES[row["value"]](context) if row["value"] in VALUES else row["value"]
        assert_that(item.get(name), equal_to({kind: value}), name)


@when("the execution is driven until wave {number:d} has completed")
def step_drive_until_wave(context, number):
    """``engine.step`` tick by tick, waiting on the clock, until the wave has ended."""
    changed(context)
    drs = world(context)
    engine = drs.engine()
    for _ in range(200):
        tick = engine.step(context.execution.execution_id)
        if tick["Done"] or (tick["Phase"] == "WAVE_PAUSE"  # a wave just ended, or the engine waits
                            and wave_of(drs.record(context.execution.execution_id), number)["Status"] != "PENDING"):
            return
        drs.clock.sleep(tick["WaitSeconds"])
    raise AssertionError(f"wave {number} did not complete within 200 ticks")


@then("the record in DynamoDB shows wave {number:d} COMPLETED with its start and end times, "
      "and wave {other:d} not finished")
def step_wave_written(context, number, other):
    """The wave's Status, StartTime and EndTime are written while the execution still runs."""
    record = latest_record(context)
    wave = wave_of(record, number)
    assert_that(record["Status"], equal_to("RUNNING"))
    assert_that(wave["Status"], equal_to("COMPLETED"))
    assert_that([ISO_UTC.match(wave["StartTime"]), ISO_UTC.match(wave["EndTime"])], only_contains(is_not(None)))
    assert_that(epoch(wave["StartTime"]), less_than(epoch(wave["EndTime"])))
    assert_that(wave_of(record, other)["Status"], is_in(["PENDING", "RUNNING"]))


def _recovering_job(context, server, job_id):
    [job] = world(context).jobs(job_ids=[job_id])
    return next(p["launchStatus"] for p in job["participatingServers"] if p["sourceServerID"] == server)


MATCHERS = {
    "the DRS job that recovered the server":
        lambda context, wave, s: _recovering_job(context, s["SourceServerId"], s["JobId"]) == "LAUNCHED",
    "the server's recovery instance in DRS":
        lambda context, wave, s: [r["ec2InstanceID"] for r in world(context).recovery_instances(
            source_server_ids=[s["SourceServerId"]])] == [s["RecoveryInstanceId"]],
    "the instance's state in EC2":
        lambda context, wave, s: world(context).instance_states([s["RecoveryInstanceId"]]) == {
            s["RecoveryInstanceId"]: s["InstanceState"]},
}


@then("every server of wave {number:d} is recorded COMPLETED with")
def step_server_results(context, number):
    """Each server's result fields against DRS, EC2 and the wave's own times."""
    wave = wave_of(latest_record(context), number)
    for server in wave["Servers"]:
        assert_that(server["Status"], equal_to("COMPLETED"), server["SourceServerId"])
        for row in context.table:
            field, matching = row["field"], row["matching"]
            where = f"{server['SourceServerId']}.{field}"
            if matching == "a time within the wave":
                assert_that(ISO_UTC.match(server[field]), is_not(None), where)
                assert_that(epoch(wave["StartTime"]) <= epoch(server[field]) <= epoch(wave["EndTime"]),
                            is_(True), where)
            elif matching in MATCHERS:
                assert_that(MATCHERS[matching](context, wave, server), is_(True), f"{where}: {server[field]}")
            else:
                assert_that(server[field], equal_to(matching), where)


@then("the record in DynamoDB ends {status:Status}, with the EndTime and Duration the clock gives")
def step_record_end(context, status):
    """Final Status; EndTime is the clock's time at the end; Duration is EndTime - StartTime."""
    record = latest_record(context)
    assert_that(record["Status"], equal_to(status), record["Error"])
    assert_that(record["EndTime"], equal_to(_iso(context.execution.ended_at)))
    assert_that(abs(record["Duration"] - (epoch(record["EndTime"]) - epoch(record["StartTime"]))),
                less_than(MS))
    assert_that(abs(record["Duration"] - context.execution.clock_seconds), less_than(MS))


@then("the record in DynamoDB lists {server:Server} as FAILED, with the DRS job that failed it and DRS's message")
def step_failed_server_recorded(context, server):
    """SourceServerId, JobId (the DRS job where its launch FAILED) and DRS's message."""
    entry = server_of(latest_record(context), server)
    assert_that(entry["Status"], equal_to("FAILED"))
    assert_that(_recovering_job(context, server, entry["JobId"]), equal_to("FAILED"))
    assert_that(entry["Error"], contains_string(entry["JobId"]))
    assert_that(entry["Error"], contains_string(_launch_failure(context, entry["JobId"], server)))
    context.failed_job = entry["JobId"]


@then("it lists {server:Server} as COMPLETED, with the DRS job that recovered it")
def step_completed_server_recorded(context, server):
    """The other server keeps its own DRS job id, the one where it was LAUNCHED."""
    entry = server_of(latest_record(context), server)
    assert_that(entry["Status"], equal_to("COMPLETED"))
    assert_that(_recovering_job(context, server, entry["JobId"]), equal_to("LAUNCHED"))
    assert_that(entry["JobId"], is_not(equal_to(context.failed_job)))


@when('the history of plan "{plan_id}" is queried')
def step_query_history(context, plan_id):
    """``engine.history(plan_id)``: the records of one plan through the PlanId index."""
    wall = real_clock.now()
    context.history = world(context).engine().history(plan_id)
    context.query_ms = (real_clock.now() - wall) * 1000


@then("the query returns {count:d} records, newest first")
def step_query_count(context, count):
    """Number of records and their order (StartTime descending)."""
    starts = [r["StartTime"] for r in context.history]
    assert_that(starts, has_length(count))
    assert_that(starts, equal_to(sorted(starts, reverse=True)))


def _check_fields(entries, table):
    for entry in entries:
        for row in table:
            assert_that(row["field"] in entry, is_(True), f"{row['field']} is missing")
            problem = format_problem(row["format"], entry.get(row["field"]))
            assert_that(problem, equal_to(None), f"{row['field']} {problem}")


@then("every record has these fields, none null")
def step_record_fields(context):
    """Top-level fields of every queried record, each present and in its format."""
    assert_that(context.history, is_not(empty()))
    _check_fields(context.history, context.table)


@then("every wave in them has these fields, none null")
def step_wave_fields(context):
    """Fields of every wave of the queried records."""
    _check_fields([w for r in context.history for w in r["Waves"]], context.table)


@then("every server in them has these fields, none null")
def step_server_fields(context):
    """Fields of every server of the queried records."""
    _check_fields([s for r in context.history for s in servers_of(r)], context.table)


@then("DynamoDB stores no NULL attribute in any of them")
def step_no_nulls(context):
    """The raw items hold no NULL-typed attribute, at any depth."""
    for record in context.history:
        item = world(context).raw_record(record["ExecutionId"])
        assert_that(null_paths(item), empty(), record["ExecutionId"])


# -- clean-up (R12.5, R10.3) -----------------------------------------------------------------

@then('DynamoDB holds {count:d} execution record for plan "{plan_id}"')
@then('DynamoDB holds {count:d} execution records for plan "{plan_id}"')
def step_records_for_plan(context, count, plan_id):
    """A scan of the history table, by PlanId."""
    records = [r for r in world(context).execution_records() if r["PlanId"] == plan_id]
    assert_that(records, has_length(count))


@when("the scenario's test data is cleaned up")
def step_clean_up(context):
    """The scenario's clean-up, run now in full: terminate instances, delete and count records, drop the table."""
    changed(context)
    drs = world(context)
    context.drill_instances = [s["RecoveryInstanceId"] for r in drs.execution_records()
                               for s in servers_of(r) if s["RecoveryInstanceId"]]
    assert_that(context.drill_instances, is_not(empty()), "the scenario recovered no instance")
    context.cleanup = drs.clean_up(thorough=True)


@then("a scan found no record left before the history table was dropped")
def step_scan_empty(context):
    """The clean-up deleted the records, then scanned the table and found nothing."""
    assert_that(context.cleanup.records_deleted, greater_than(0))
    assert_that(context.cleanup.records_left, equal_to(0))


@then("the history table no longer exists")
def step_table_gone(context):
    """ListTables no longer has the scenario's table."""
    assert_that(context.cleanup.table_dropped, is_(True))
    assert_that(world(context).tables(), is_not(has_item(context.cleanup.table)))


@then("every recovery instance of the drill is terminated in EC2")
def step_instances_terminated(context):
    """The clean-up terminated them through DRS; EC2 reports each one terminated."""
    drs = world(context)
    assert_that(sorted(context.cleanup.instances_terminated), equal_to(sorted(context.drill_instances)))
    states = drs.instance_states(context.drill_instances)
    assert_that(list(states.values()) or ["none found"], only_contains("terminated"))
