"""@drs steps of performance and scalability (R7): the RTO on the clock, twenty servers, ten
concurrent executions under the state machine, its limits, and history queries among a thousand
records. Wall times are printed and written to the run's journal as ``measurement`` events."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from behave import given, then, when
from hamcrest import (
    assert_that,
    empty,
    equal_to,
    greater_than_or_equal_to,
    has_length,
    is_not,
    less_than,
    less_than_or_equal_to,
    only_contains,
)

from drs_support import (
    HISTORY_EVENT_LIMIT,
    PAYLOAD_LIMIT_BYTES,
    STATE_MACHINE,
    StateMachineRun,
    changed,
    engine_lambda,
    epoch,
    latest_record,
    run_state_machines,
    servers_of,
    task_states,
    world,
)
from gauntlet.clock import real_clock
from gauntlet.local.drs.fixture import scale_plan
from gauntlet.sut.drs_engine.history import PLAN_INDEX


def measured(context, name: str, **figures) -> None:
    """Print a measurement and record it in the run's journal."""
    print(f"measurement {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    context.gauntlet.run.journal.write("measurement", name=name, scenario=context.scenario.name, **figures)


# -- R7.1 ------------------------------------------------------------------------------------

@then("all {count:d} servers recovered within {minutes:d} minutes on the clock, in under {seconds:d} seconds "
      "of wall time")
def step_rto(context, count, minutes, seconds):
    """Every server COMPLETED; Duration (clock) within the RTO; the run's wall time."""
    record = latest_record(context)
    servers = servers_of(record)
    assert_that([s["Status"] for s in servers], only_contains("COMPLETED"))
    assert_that(servers, has_length(count))
    last = max(epoch(s["EndTime"]) for s in servers)
    measured(context, "rto", servers=count, clock_seconds=record["Duration"],
             last_server_recovered_after=round(last - epoch(record["StartTime"]), 3),
             wall_seconds=round(context.execution.wall_seconds, 3))
    assert_that(record["Duration"], less_than_or_equal_to(minutes * 60))
    assert_that(context.execution.wall_seconds, less_than(seconds))


# -- R7.2 ------------------------------------------------------------------------------------

@given("DRS replicates {count:d} more source servers, {total:d} in all")
def step_more_servers(context, count, total):
    """Add replicating servers to the simulator; the scenario's servers are all of them."""
    drs = world(context)
    added = drs.add_source_servers(count, {"ProtectionGroup": "Scale"})
    known = [s["sourceServerID"] for s in drs.source_servers()]
    assert_that(known, has_length(total))
    context.scale_servers = [sid for sid in drs.test_servers if sid in known] + added


@given("a plan recovering those {count:d} servers in {waves:d} PARALLEL waves of {size:d}")
def step_scale_plan(context, count, waves, size):
    """A generated plan (and protection groups), each wave depending on the one before."""
    context.plan, context.groups = scale_plan(context.scale_servers[:count], waves)
    assert_that([len(w["Servers"]) for w in context.plan["Waves"]], equal_to([size] * waves))


@then("all {count:d} servers recovered")
def step_all_recovered(context, count):
    """Every server of the record COMPLETED."""
    servers = servers_of(latest_record(context))
    assert_that(servers, has_length(count))
    assert_that([s["Status"] for s in servers], only_contains("COMPLETED"))


@then("DRS throttled {count:d} calls, yet no server or wave recorded a throttling error")
def step_throttling_absorbed(context, count):
    """The simulator's faulted count; no error text about throttling anywhere in the record."""
    calls = world(context).control.calls()
    assert_that(sum(calls["faulted"].values()), equal_to(count))
    record = latest_record(context)
    errors = [record["Error"]] + [w["Error"] for w in record["Waves"]] + [s["Error"] for s in servers_of(record)]
    assert_that([e for e in errors if "Throttl" in e or "Rate exceeded" in e], empty())
    measured(context, "twenty_servers", drs_calls=calls["total"], throttled=count,
             clock_seconds=record["Duration"], wall_seconds=round(context.execution.wall_seconds, 3))


@then("DRS received exactly {count:d} StartRecovery calls that succeeded")
def step_successful_launches(context, count):
    """Requests minus throttled ones; every StartRecovery API call of the engine got a job."""
    calls = world(context).control.calls()
    assert_that(calls["operations"]["StartRecovery"] - calls["faulted"].get("StartRecovery", 0), equal_to(count))
    launches = world(context).calls.of("drs", "StartRecovery")
    assert_that([bool(c.response.get("job")) for c in launches], equal_to([True] * count))


# -- R7.3 ------------------------------------------------------------------------------------

@given("{count:d} plans, each recovering one of those servers")
def step_one_server_plans(context, count):
    """One single-server, single-wave plan per server."""
    context.plans = [scale_plan([sid], 1, plan_id=f"plan-concurrent-{n:02d}")
                     for n, sid in enumerate(context.scale_servers[:count], start=1)]
    assert_that(context.plans, has_length(count))


@when("the {count:d} plans run concurrently under the state machine, each tick one Lambda invocation")
def step_concurrent_state_machines(context, count):
    """One interpreted state machine execution per plan, interleaved on the clock, one warm Lambda."""
    changed(context)
    drs = world(context)
    function = engine_lambda(context)
    context.function = function
    context.sfns = [StateMachineRun(STATE_MACHINE, {"Plan": plan, "ProtectionGroups": groups}, function,
                                    name=f"sfn-{drs.table}-{n}")
                    for n, (plan, groups) in enumerate(context.plans[:count])]
    wall = real_clock.now()
    run_state_machines(context.sfns, drs.clock)
    context.concurrent_wall = real_clock.now() - wall


@then("all {count:d} executions end COMPLETED")
def step_all_completed(context, count):
    """Each state machine execution succeeded; each record says COMPLETED."""
    assert_that([run.outcome for run in context.sfns], equal_to(["ExecutionCompleted"] * count))
    records = [world(context).record(run.data["Execution"]["ExecutionId"]) for run in context.sfns]
    assert_that([r["Status"] for r in records], equal_to(["COMPLETED"] * count))


@then("the {count:d} DRS jobs were all in progress at the same time")
def step_jobs_overlap(context, count):
    """The latest creation time of the jobs comes before the earliest end time."""
    jobs = world(context).launch_jobs()
    assert_that(jobs, has_length(count))
    assert_that(max(epoch(j["creationDateTime"]) for j in jobs),
                less_than(min(epoch(j["endDateTime"]) for j in jobs)))


@then("every Lambda tick that monitored a job made exactly {count:d} DescribeJobs call")
def step_one_poll_per_tick(context, count):
    """DescribeJobs calls DRS received during each "step" invocation."""
    ticks = [i for i in context.function.invocations if i.action == "step" and not i.failed]
    polling = [i.describe_jobs_calls for i in ticks if i.describe_jobs_calls]
    assert_that(polling, is_not(empty()))
    assert_that(polling, only_contains(count))
    total = sum(i.describe_jobs_calls for i in context.function.invocations)
    assert_that(total, equal_to(len(polling) * count))  # start and fail invocations polled nothing
    measured(context, "concurrent_jobs", executions=len(context.sfns), lambda_ticks=len(ticks),
             describe_jobs_calls=total, wall_seconds=round(context.concurrent_wall, 3))


@then("every Lambda tick finished within a tenth of the state machine's task timeout")
def step_ticks_fast(context):
    """The slowest invocation's wall time against the smallest Task TimeoutSeconds."""
    timeout = min(state["TimeoutSeconds"] for state in task_states().values())
    slowest = max(i.wall_seconds for i in context.function.invocations)
    measured(context, "lambda_tick", slowest_wall_seconds=round(slowest, 4), task_timeout_seconds=timeout)
    assert_that(slowest, less_than(timeout / 10))


# -- R7.4 ------------------------------------------------------------------------------------

@then("the state machine ended in ExecutionCompleted after at least {count:d} state transitions")
def step_transitions(context, count):
    """Terminal state and the number of states the execution went through."""
    run = context.sfn
    assert_that(run.outcome, equal_to("ExecutionCompleted"))
    assert_that(len(run.transitions), greater_than_or_equal_to(count))


LIMITS = {
    "history events of the execution": lambda run: run.history_events,
    "payload of any state, in bytes": lambda run: max(t.payload_bytes for t in run.transitions),
    "execution time on the clock, in seconds": lambda run: run.clock_seconds,
    "each Lambda task, in seconds": lambda run: max(t.wall_seconds for t in run.transitions if t.kind == "Task"),
}
LIMIT_VALUES = {
    "the definition's TimeoutSeconds": lambda state: STATE_MACHINE["TimeoutSeconds"],
    "the task state's TimeoutSeconds": lambda state: min(s["TimeoutSeconds"] for s in task_states().values()),
}


@then("the run stayed within the Step Functions limits")
def step_limits(context):
    """Each measured figure of the interpreted run against its quota."""
    run = context.sfn
    figures = {}
    for row in context.table:
        value = LIMITS[row["limit"]](run)
        limit = LIMIT_VALUES[row["at most"]](run) if row["at most"] in LIMIT_VALUES else float(row["at most"])
        figures[row["limit"]] = (round(value, 4), limit)
        assert_that(value, less_than_or_equal_to(limit), row["limit"])
    assert_that(float(context.table[0]["at most"]), equal_to(HISTORY_EVENT_LIMIT))
    assert_that(float(context.table[1]["at most"]), equal_to(PAYLOAD_LIMIT_BYTES))
    measured(context, "state_machine", transitions=len(run.transitions),
             **{k.split(",")[0].replace(" ", "_"): v[0] for k, v in figures.items()})


# -- R7.5 ------------------------------------------------------------------------------------

@given("the history table holds {count:d} execution records of {plans:d} plans, copied from that execution")
def step_thousand_records(context, count, plans):
    """1000 copies of the real record (new ids, plans plan-load-NNN, earlier StartTimes); original removed."""
    drs = world(context)
    original = drs.raw_record(context.execution.execution_id)
    began = epoch(original["StartTime"]["S"])
    items = []
    for n in range(count):
        item = dict(original)
        moment = began - 60 * (n + 1)
        stamp = datetime.fromtimestamp(moment, tz=timezone.utc)
        item.update(ExecutionId={"S": str(uuid.uuid4())}, PlanId={"S": f"plan-load-{n % plans:03d}"},
                    StartTime={"S": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"})
        items.append(item)
    drs.bulk_load(items)
    dynamodb = drs.client("dynamodb")
    dynamodb.delete_item(TableName=drs.table, Key={"ExecutionId": {"S": context.execution.execution_id}})
    context.records_in_table = dynamodb.describe_table(TableName=drs.table)["Table"]["ItemCount"]
    assert_that(context.records_in_table, equal_to(count))  # moto's ItemCount is live (AWS: ~6 h late)


@when('the history of plan "{plan_id}" is queried through the PlanId index')
def step_query_index(context, plan_id):
    """``engine.history(plan_id)``, timed on the wall clock."""
    drs = world(context)
    mark = drs.calls.mark()
    wall = real_clock.now()
    context.history = drs.engine().history(plan_id)
    context.query_ms = (real_clock.now() - wall) * 1000
    queries = drs.calls.of("dynamodb", "Query", since=mark)
    assert_that([q.params.get("IndexName") for q in queries], equal_to([PLAN_INDEX]))


@then('the query returns {count:d} records, newest first, all of plan "{plan_id}"')
def step_query_result(context, count, plan_id):
    """How many, which plan, in which order."""
    starts = [r["StartTime"] for r in context.history]
    assert_that(starts, has_length(count))
    assert_that(starts, equal_to(sorted(starts, reverse=True)))
    assert_that([r["PlanId"] for r in context.history], only_contains(plan_id))


@then("the query took less than {limit:d} ms of wall time")
def step_query_time(context, limit):
    """The measured wall time of the query."""
    measured(context, "history_query", records_in_table=context.records_in_table,
             wall_ms=round(context.query_ms, 2))
    assert_that(context.query_ms, less_than(limit))

