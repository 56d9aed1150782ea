"""@drs steps of cross-account recovery (R6), SNS notifications (R8) and idempotency and retry
(R9): STS, SNS (read through a subscribed SQS queue), the state machine and faults below the
engine's clients."""

from __future__ import annotations

from itertools import pairwise

import logging

from behave import given, then, when
from hamcrest import (
    assert_that,
    contains_string,
    empty,
    equal_to,
    greater_than,
    greater_than_or_equal_to,
    has_entries,
    has_item,
    has_length,
    instance_of,
    is_,
    is_not,
    less_than,
    only_contains,
    starts_with,
)

from drs_support import (
    MS,
    STATE_MACHINE,
    StateMachineRun,
    changed,
    engine_lambda,
    epoch,
    jobs_holding,
    latest_record,
    run_state_machines,
    server_of,
    servers_of,
    task_states,
    wave_of,
    world,
)
from gauntlet.sut.drs_engine import CrossAccountError, RetriesExhausted

LAMBDA_ERRORS = ("Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                 "Lambda.TooManyRequestsException")


def _assume_role_calls(context):
    return world(context).calls.of("sts", "AssumeRole")


def _assumed_keys(context):
    return [c.response["Credentials"]["AccessKeyId"] for c in _assume_role_calls(context)]


# -- R6: cross-account -----------------------------------------------------------------------

@then("the engine called STS AssumeRole once, for the plan's CrossAccountRoleArn")
def step_assumed_once(context):
    """The engine's STS AssumeRole requests."""
    calls = _assume_role_calls(context)
    assert_that([c.params["RoleArn"] for c in calls], equal_to([context.plan["CrossAccountRoleArn"]]))


@then("the DRS recovery job ran in the plan's target account, and none in the engine's own account")
def step_job_in_target(context):
    """DRS jobs seen through the role (target account) and without it (own account)."""
    target = context.plan["TargetAccountId"]
    jobs = world(context).launch_jobs(context.plan["CrossAccountRoleArn"])
    assert_that(jobs, has_length(1))
    assert_that(jobs[0]["arn"].split(":")[4], equal_to(target))
    assert_that(world(context).launch_jobs(), empty())


@then("every DRS request of the engine was signed with the access key AssumeRole returned, "
      "and its session token")
def step_drs_signed_with_role(context):
    """The access key in every DRS request's SigV4 Authorization header, and the token header."""
    keys = _assumed_keys(context)
    attempts = world(context).calls.attempts_of("drs")
    assert_that(attempts, is_not(empty()))
    assert_that([(a.access_key in keys, a.session_token) for a in attempts], only_contains((True, True)))


@then("so was every EC2 health check request")
def step_ec2_signed_with_role(context):
    """The same for every DescribeInstanceStatus request."""
    keys = _assumed_keys(context)
    attempts = world(context).calls.attempts_of("ec2", "DescribeInstanceStatus")
    assert_that(attempts, is_not(empty()))
    assert_that([(a.access_key in keys, a.session_token) for a in attempts], only_contains((True, True)))


@given('STS refuses the engine\'s AssumeRole with {code} "{message}"')
def step_sts_refuses(context, code, message):
    """STS answers the engine's next AssumeRole with an error (botocore Stubber on its client)."""
    stubber = world(context).stub(world(context).engine().accounts.home().client("sts"))
    stubber.add_client_error("assume_role", code, message, 403)


@then('the error is a CrossAccountError naming the plan\'s role ARN and "{reason}"')
def step_cross_account_error(context, reason):
    """The exception type, the role it names, and the reason in its message."""
    role = context.plan["CrossAccountRoleArn"]
    assert_that(context.error, instance_of(CrossAccountError))
    assert_that(context.error.role_arn, equal_to(role))
    assert_that(str(context.error), equal_to(f"cannot assume cross-account role {role}: {reason}"))


@then("no execution record was written")
def step_no_record(context):
    """The history table is empty: no record and no plan claim."""
    assert_that(world(context).history_items(), empty())


@then("the engine assumed the role twice, the second time before the first credentials expired")
def step_assumed_twice(context):
    """Two AssumeRole calls: the second within the first credentials' lifetime (DurationSeconds)."""
    calls = _assume_role_calls(context)
    assert_that(calls, has_length(2))
    lifetime = calls[0].params["DurationSeconds"]
    assert_that(calls[1].at - calls[0].at, less_than(lifetime))
    assert_that(calls[1].at - calls[0].at, greater_than(lifetime / 2))
    first, second = _assumed_keys(context)
    assert_that(first, is_not(equal_to(second)))


@then("the DRS requests of wave {number:d} were signed with the refreshed credentials")
def step_refreshed_used(context, number):
    """DRS requests from the wave's start on carry the second key; earlier ones the first."""
    first, second = _assumed_keys(context)
    began = epoch(wave_of(latest_record(context), number)["StartTime"])
    attempts = world(context).calls.attempts_of("drs")
    later = [a.access_key for a in attempts if a.at >= began - MS]
    earlier = [a.access_key for a in attempts if a.at < began - MS]
    assert_that(later, is_not(empty()))
    assert_that(later, only_contains(second))
    assert_that(earlier, only_contains(first))


@then("the record in DynamoDB has SourceAccountId set to the engine's own account, as STS reports it")
def step_source_account(context):
    """SourceAccountId against STS GetCallerIdentity of the engine's credentials."""
    assert_that(latest_record(context)["SourceAccountId"], equal_to(world(context).home_account()))


@then("its TargetAccountId is the plan's target account, where DRS ran the recovery job")
def step_target_account(context):
    """TargetAccountId against the plan and the account in the DRS job's ARN."""
    record = latest_record(context)
    target = context.plan["TargetAccountId"]
    jobs = world(context).launch_jobs(context.plan["CrossAccountRoleArn"])
    assert_that(record["TargetAccountId"], equal_to(target))
    assert_that({job["arn"].split(":")[4] for job in jobs}, equal_to({target}))
    assert_that(record["TargetAccountId"], is_not(equal_to(record["SourceAccountId"])))


# -- R8: SNS ---------------------------------------------------------------------------------

@given("the plan notifies an SNS topic with an SQS queue subscribed")
def step_topic(context):
    """A new topic (and queue) in moto; its ARN becomes the plan's SnsTopicArn."""
    context.topic = world(context).topic()
    context.plan["SnsTopicArn"] = context.topic.arn


@given("the plan notifies an SNS topic that has since been deleted")
def step_deleted_topic(context):
    """A topic that existed, deleted before the execution ends."""
    topic = world(context).topic()
    world(context).client("sns").delete_topic(TopicArn=topic.arn)
    context.plan["SnsTopicArn"] = topic.arn


@given("the plan has no SnsTopicArn")
def step_no_topic(context):
    """The plan names no topic."""
    context.plan.pop("SnsTopicArn", None)


def _message(context) -> dict:
    return context.notifications[0]["Body"]


@then("the queue received exactly {count:d} notification")
@then("the queue received exactly {count:d} notifications")
def step_notifications(context, count):
    """Messages delivered to the subscribed queue."""
    context.notifications = context.topic.messages()
    assert_that(context.notifications, has_length(count))


@then("it summarises the execution as the history records it: Status COMPLETED, its times and every wave's status")
def step_summary(context):
    """The message against the record: status, times, waves."""
    record, message = latest_record(context), _message(context)
    assert_that(record["Status"], equal_to("COMPLETED"))
    assert_that(message, has_entries(Status="COMPLETED", StartTime=record["StartTime"],
                                     EndTime=record["EndTime"], PlanName=record["PlanName"]))
    assert_that(message["Waves"], equal_to([{"WaveNumber": w["WaveNumber"], "WaveName": w["WaveName"],
                                             "Status": w["Status"]} for w in record["Waves"]]))
    assert_that(context.notifications[0]["Subject"], contains_string("COMPLETED"))


@then("the record's Notification is {outcome:Status}")
def step_notification_outcome(context, outcome):
    """What the engine recorded about the notification."""
    assert_that(latest_record(context)["Notification"], equal_to(outcome))


@then("it reports Status FAILED with the execution's error")
def step_failure_message(context):
    """Status and Error of the message, as in the record."""
    record, message = latest_record(context), _message(context)
    assert_that(message["Status"], equal_to("FAILED"))
    assert_that(message["Error"], equal_to(record["Error"]))
    assert_that(message["Error"], is_not(equal_to("")))


@then("it lists the affected servers with their wave, status, DRS job and error, as the history has them")
def step_affected_servers(context):
    """AffectedServers: which servers, their wave and status; job and error as recorded."""
    record, message = latest_record(context), _message(context)
    listed = message["AffectedServers"]
    assert_that(sorted((s["SourceServerId"], str(s["WaveNumber"]), s["Status"]) for s in listed),
                equal_to(sorted((r["server"], r["wave"], r["status"]) for r in context.table)))
    for entry in listed:
        recorded = server_of(record, entry["SourceServerId"])
        assert_that((entry["JobId"], entry["Error"]), equal_to((recorded["JobId"], recorded["Error"])))


@then("the engine made no SNS call")
def step_no_sns(context):
    """No request from the engine's SNS client."""
    assert_that(world(context).calls.of("sns"), empty())


@then("the engine logged an error naming the topic and SNS's reason")
def step_logged_sns_error(context):
    """An ERROR from the engine naming the topic, with the reason SNS gives for that topic."""
    from gauntlet.sut.drs_engine.retry import describe_error
    from botocore.exceptions import ClientError

    topic = context.plan["SnsTopicArn"]
    try:
        world(context).client("sns").publish(TopicArn=topic, Message="probe")
        reason = "(SNS accepted the probe)"
    except ClientError as error:
        reason = describe_error(error)
    errors = world(context).engine_log(logging.ERROR)
    assert_that(errors, has_item(contains_string(f"SNS publish to {topic} failed: {reason}")))


@then("it carries these fields with the values of the history record")
def step_message_fields(context):
    """Each listed field of the message equals the record's."""
    record, message = latest_record(context), _message(context)
    for row in context.table:
        assert_that(message.get(row["field"]), equal_to(record[row["field"]]), row["field"])


@then("its ServerCount is the {count:d} servers of the plan and its Duration the time the execution "
      "took on the clock")
def step_message_counts(context, count):
    """ServerCount against the plan; Duration against the clock."""
    message = _message(context)
    assert_that(sum(len(w["Servers"]) for w in context.plan["Waves"]), equal_to(count))
    assert_that(message["ServerCount"], equal_to(count))
    assert_that(abs(message["Duration"] - context.execution.clock_seconds), less_than(MS))


# -- R9: the state machine, idempotency, retries ---------------------------------------------

@then("every Task state of the state machine retries Lambda errors {attempts:d} times, {interval:d} seconds "
      "apart at first, with backoff rate {rate:d}")
def step_retry_policy(context, attempts, interval, rate):
    """Each Task's Retry rule for the Lambda service errors, read from the ASL definition."""
    tasks = task_states()
    assert_that(tasks, is_not(empty()))
    for name, state in tasks.items():
        rules = [r for r in state.get("Retry", []) if set(LAMBDA_ERRORS) <= set(r["ErrorEquals"])]
        assert_that(rules, has_length(1), name)
        assert_that((rules[0]["MaxAttempts"], rules[0]["IntervalSeconds"], rules[0]["BackoffRate"]),
                    equal_to((attempts, interval, rate)), name)


@given('the engine\'s Lambda fails its next {count:d} "{action}" invocations with {error}')
def step_lambda_fails(context, count, action, error):
    """The next invocations for that action fail as the Lambda service fails them."""
    if "lambda_failures" not in context:
        context.lambda_failures = []
    context.lambda_failures.append((action, count, error))


@when("the plan runs under the state machine definition to its end")
def step_state_machine(context):
    """Interpret the ASL definition: each Task invokes the engine's lambda_handler."""
    changed(context)
    drs = world(context)
    function = engine_lambda(context)
    for action, count, error in getattr(context, "lambda_failures", []):
        function.fail_next(action, count, error)
    context.lambda_failures = []
    context.runs = getattr(context, "runs", 0) + 1
    context.sfn = StateMachineRun(STATE_MACHINE, {"Plan": context.plan, "ProtectionGroups": context.groups},
                                  function, name=f"sfn-{drs.table}-{context.runs}")
    context.function = function
    run_state_machines([context.sfn], drs.clock)


@then("the state machine ended in {state:Operation}")
def step_sfn_ended(context, state):
    """The terminal state the interpreted execution reached."""
    assert_that(context.sfn.outcome, equal_to(state), [t.state for t in context.sfn.transitions[-6:]])


@then("the failed invocations were retried after {first:d} and then {second:d} seconds on the clock")
def step_sfn_retries(context, first, second):
    """The interpreter's retries and the clock time between the failed and retried invocations."""
    assert_that([(r.error, r.waited) for r in context.sfn.retries],
                equal_to([("Lambda.ServiceException", first), ("Lambda.ServiceException", second)]))
    invocations = context.function.invocations
    failed = [i for i, call in enumerate(invocations) if call.failed]
    assert_that(failed, has_length(2))
    times = [invocations[i].at for i in (failed[0], failed[1], failed[1] + 1)]
    assert_that([round(b - a, 3) for a, b in pairwise(times)], equal_to([first, second]))


@then("the state machine ended in ExecutionFailed after {count:d} retries of the same state")
def step_sfn_gave_up(context, count):
    """Retries exhausted on one state; the Catch led through RecordFailure."""
    run = context.sfn
    assert_that(run.outcome, equal_to("ExecutionFailed"))
    assert_that({r.state for r in run.retries}, has_length(1))
    assert_that(run.retries, has_length(count))
    assert_that([t.state for t in run.transitions[-2:]], equal_to(["RecordFailure", "ExecutionFailed"]))


@then('the history records that execution FAILED with the error "{error}"')
def step_sfn_history(context, error):
    """The record of the state machine's execution."""
    record = world(context).record(context.sfn.data["Execution"]["ExecutionId"])
    assert_that((record["Status"], record["Error"]), equal_to(("FAILED", error)))


@then("both starts returned the same ExecutionId")
def step_same_id(context):
    """The second start's answer."""
    assert_that(context.second_id, equal_to(context.execution.execution_id))


@given("the reply to the engine's next {operation:Operation} is lost after DRS has acted on it")
def step_lose_reply(context, operation):
    """The engine's next request reaches DRS; the answer is dropped (botocore sees a read timeout)."""
    drs = world(context)
    drs.lose_next_reply(drs.engine().accounts.home().client("drs"), operation)


@then("DRS received {count:d} {operation:Operation} calls, the retry refused with {code}")
def step_retry_refused(context, count, operation, code):
    """Requests DRS counted, and the error the engine's (single) API call finally got."""
    assert_that(world(context).control.calls()["operations"].get(operation, 0), equal_to(count))
    [call] = world(context).calls.of("drs", operation)
    assert_that(call.error_code, equal_to(code))


@then("DRS holds exactly {count:d} recovery job for the servers of wave {number:d}, the one the history names")
def step_one_job(context, count, number):
    """DRS's launch jobs holding the wave's servers, against the JobIds of the record."""
    ids = [s["SourceServerId"] for s in wave_of(context.plan, number)["Servers"]]
    jobs = jobs_holding(context, ids)
    assert_that(jobs, has_length(count))
    recorded = {s["JobId"] for s in servers_of(latest_record(context), number)}
    assert_that(recorded, equal_to({job["jobID"] for job in jobs}))


@given("DynamoDB rejects the engine's next {count:d} {operation:Operation} requests with {code}")
def step_dynamodb_rejects(context, count, operation, code):
    """Answer the engine's next requests with the error, below botocore's retry loop."""
    drs = world(context)
    context.dynamodb_faults = drs.fault_injector(drs.engine().store.dynamodb).throttle(
        operation, times=count, code=code, status=400)


@then("the engine sent at least {count:d} UpdateItem requests: botocore's 4 attempts, then its own retry")
def step_update_attempts(context, count):
    """Requests the fault injector saw (it answers the faulted ones; moto the rest)."""
    assert_that(context.dynamodb_faults.calls["UpdateItem"], greater_than_or_equal_to(count))


@then("the engine made the same UpdateItem write twice in a row")
def step_same_write_twice(context):
    """Two consecutive UpdateItem calls with identical parameters: the engine's write retry."""
    calls = world(context).calls.of("dynamodb", "UpdateItem")
    repeats = [a for a, b in pairwise(calls) if a.params == b.params]
    assert_that(repeats, is_not(empty()))


@then("the record in DynamoDB holds the final state of every wave")
def step_final_state(context):
    """Every wave and server ended COMPLETED in the record, with end times."""
    record = latest_record(context)
    assert_that([(w["Status"], bool(w["EndTime"])) for w in record["Waves"]], only_contains(("COMPLETED", True)))
    assert_that([s["Status"] for s in servers_of(record)], only_contains("COMPLETED"))


@then("the error is RetriesExhausted naming the history write of the RUNNING execution, {attempts:d} attempts "
      "and {code}")
def step_retries_exhausted(context, attempts, code):
    """The exception and its message, for the execution left RUNNING by the failed write."""
    running = [r for r in world(context).execution_records() if r["Status"] == "RUNNING"]
    assert_that(running, has_length(1))
    assert_that(context.error, instance_of(RetriesExhausted))
    assert_that(str(context.error), starts_with(
        f"history write update {running[0]['ExecutionId']} failed after {attempts} attempts: {code}"))
    assert_that(context.error.__cause__, is_not(None))
    assert_that(isinstance(context.error, RetriesExhausted), is_(True))
