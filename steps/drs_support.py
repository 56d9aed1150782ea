"""Helpers for the @drs steps (no step definitions here): test data, running a plan, reading the
history record, formats, the Step Functions interpreter, and probes of the simulated DRS API.

Imported by the ``drs_*_steps`` modules (behave puts ``steps/`` on the path while loading them).
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import parse
from behave import register_type
from hamcrest import assert_that, is_not

from gauntlet.clock import real_clock
from gauntlet.sut.drs_engine.state_machine import DEFINITION_FILE

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "fixtures" / "drs" / "plans"
PLAN_FILES = sorted(p.stem for p in PLANS.glob("*.json") if p.stem != "protection_groups")


# -- step parameter types -----------------------------------------------------------------------

@parse.with_pattern(r"s-[0-9a-f]{17}")
def _server(text: str) -> str:
    return text


@parse.with_pattern(r"[A-Z][A-Z_]*")
def _status(text: str) -> str:
    return text


@parse.with_pattern(r"[A-Z][A-Za-z]+")
def _operation(text: str) -> str:
    return text


register_type(Server=_server, Status=_status, Operation=_operation)


# -- test data ----------------------------------------------------------------------------------

def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def plan_named(name: str) -> dict:
    path = PLANS / f"{name}.json"
    if not path.is_file():
        raise AssertionError(f"no recovery plan {name!r} in {PLANS} (known: {', '.join(PLAN_FILES)})")
    return load_json(path)


def protection_groups() -> dict:
    return load_json(PLANS / "protection_groups.json")


def table_value(text: str) -> Any:
    """A data-table cell: JSON when it parses (600, true, [], [1]), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_path(data: dict, path: str, value: Any) -> None:
    """``set_path(wave, "HealthCheck.Enabled", False)``."""
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def wave_of(plan_or_record: dict, number: int) -> dict:
    return next(w for w in plan_or_record["Waves"] if w["WaveNumber"] == number)


def servers_of(record: dict, wave: Optional[int] = None) -> List[dict]:
    return [s for w in record["Waves"] if wave in (None, w["WaveNumber"]) for s in w["Servers"]]


def server_of(record: dict, server_id: str) -> dict:
    found = [s for s in servers_of(record) if s["SourceServerId"] == server_id]
    if not found:
        raise AssertionError(f"server {server_id} is not in execution {record['ExecutionId']}")
    return found[0]


def epoch(text: str) -> float:
    """An ISO 8601 time (history or DRS) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- the world of the scenario ----------------------------------------------------------------

MS = 0.002  # history times are ISO 8601 with milliseconds: compare to the millisecond
SIMULATOR_ONLY = ("needs the offline DRS simulator (fault injection, virtual time): run the @drs features on "
                  "the offline target (the default); on a real account only the @needs.real-drs ones run")


def world(context):
    if "drs" not in context:
        raise AssertionError("no DRS world: the feature needs the @fixture.drs tag")
    return context.drs


def latest_record(context) -> dict:
    """The latest execution's record, read back from DynamoDB (once until something changes it:
    see :func:`changed`)."""
    if "drs_records" not in context:
        context.drs_records = {}
    cache = context.drs_records
    execution_id = context.execution.execution_id
    if execution_id not in cache:
        cache[execution_id] = world(context).record(execution_id)
    assert_that(cache[execution_id], is_not(None), f"no history record for {execution_id}")
    return cache[execution_id]


def changed(context) -> None:
    """A step acted: records read before are stale."""
    if "drs_records" in context:
        context.drs_records.clear()


def jobs_holding(context, server_ids, role_arn: str = ""):
    wanted = set(server_ids)
    return [job for job in world(context).launch_jobs(role_arn)
            if wanted & {p["sourceServerID"] for p in job["participatingServers"]}]


def drs_operations(context) -> dict:
    return world(context).control.calls()



# -- running a plan -----------------------------------------------------------------------------

@dataclass
class Execution:
    """One engine execution as a step saw it: its id, the final status, and how long it took."""

    execution_id: str
    status: dict
    wall_seconds: float
    clock_seconds: float
    started_at: float
    ended_at: float


def run_plan(world, plan: dict, groups: dict) -> Execution:
    """``engine.start`` then ``engine.run`` (what ``execute`` does), timed on both clocks."""
    engine = world.engine()
    wall, began, started_at = real_clock.now(), world.clock.now(), world.clock.wall()
    execution_id = engine.start(plan, groups)
    world.watch_plan_account(plan)
    status = engine.run(execution_id)
    return Execution(execution_id, status, real_clock.now() - wall, world.clock.now() - began,
                     started_at, world.clock.wall())


# -- formats of history fields ------------------------------------------------------------------

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_PATTERNS = {
    "UUID": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "ISO 8601 UTC": ISO_UTC.pattern[1:-1],
    "account id": r"\d{12}",
    "region": r"[a-z]{2}(-[a-z]+)+-\d",
    "source server id": r"s-[0-9a-f]{17}",
    "DRS job id": r"drsjob-[0-9a-zA-Z]{17}",
    "EC2 instance id, empty if none launched": r"(i-[0-9a-f]{8,17})?",
    "final status": r"COMPLETED|FAILED|CANCELLED",
    "server status": r"COMPLETED|FAILED|SKIPPED|CANCELLED",
    "wave status": r"COMPLETED|FAILED|SKIPPED|CANCELLED",
    "notification": r"SENT|SKIPPED|FAILED",
    "health check": r"PASSED|FAILED|SKIPPED|",
}


def format_problem(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is not in format ``name`` (None when it is)."""
    if value is None:
        return "is null"
    if name in _PATTERNS:
        ok = isinstance(value, str) and re.fullmatch(_PATTERNS[name], value)
    elif name == "text":
        ok = isinstance(value, str) and value != ""
    elif name == "text, empty if none":
        ok = isinstance(value, str)
    elif name == "seconds":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
    elif name == "count":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    elif name == "whole number":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif name == "boolean":
        ok = isinstance(value, bool)
    elif name == "list":
        ok = isinstance(value, list) and len(value) > 0
    elif name == "list of wave numbers":
        ok = isinstance(value, list) and all(isinstance(v, int) for v in value)
    else:
        raise AssertionError(f"unknown format {name!r} (known: {', '.join(sorted(_PATTERNS))}, text, "
                             "seconds, count, boolean, list ...)")
    return None if ok else f"{value!r} is not {name}"


def null_paths(item: Any, path: str = "") -> List[str]:
    """Paths of NULL attributes in a raw DynamoDB item (``{"NULL": true}``)."""
    found: List[str] = []
    if isinstance(item, dict):
        if item.get("NULL") is True:
            return [path or "<item>"]
        for key, value in item.items():
            found.extend(null_paths(value, f"{path}.{key}" if path else key))
    elif isinstance(item, list):
        for index, value in enumerate(item):
            found.extend(null_paths(value, f"{path}[{index}]"))
    return found


PASCAL_CASE = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def field_names(value: Any, path: str = "") -> Iterator[tuple]:
    """(path, name) of every dictionary key, nested ones included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from field_names(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from field_names(item, f"{path}[{index}]")


# -- the Step Functions definition, interpreted ------------------------------------------------

STATE_MACHINE = load_json(DEFINITION_FILE)
# Step Functions Standard workflow quotas (AWS documentation, "Step Functions service quotas").
HISTORY_EVENT_LIMIT = 25_000
PAYLOAD_LIMIT_BYTES = 262_144
# History events Step Functions writes per state (entered/exited, and a task's scheduled/started/
# succeeded-or-failed): enough to estimate an execution's history length.
EVENTS_PER_STATE = {"Task": 5, "Choice": 2, "Wait": 2, "Succeed": 2, "Fail": 2}
EVENTS_PER_RETRY = 3


class TaskFailure(Exception):
    """A task's error as Step Functions names it (``Lambda.ServiceException``, ``States.Timeout``)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass
class Invocation:
    action: str
    wall_seconds: float
    at: float
    describe_jobs_calls: int = 0
    failed: str = ""


class EngineLambda:
    """The engine's Lambda as the state machine invokes it: JSON in and out, timed, counted,
    and failing on demand (``fail_next``) the way the Lambda service fails an invocation."""

    def __init__(self, handler: Callable[[dict], dict], clock, drs_calls: Callable[[], int]) -> None:
        self.handler = handler
        self.clock = clock
        self.drs_calls = drs_calls  # () -> DescribeJobs calls DRS has received so far
        self.invocations: List[Invocation] = []
        self._failures: Dict[str, List[str]] = {}

    def fail_next(self, action: str, count: int, error: str) -> None:
        self._failures.setdefault(action, []).extend([error] * count)

    def __call__(self, payload: dict) -> dict:
        event = json.loads(json.dumps(payload))
        action = event.get("Action", "")
        wall, before = real_clock.now(), self.drs_calls()
        pending = self._failures.get(action)
        if pending:
            error = pending.pop(0)
            self.invocations.append(Invocation(action, 0.0, self.clock.wall(), 0, error))
            raise TaskFailure(error, "simulated Lambda service failure")
        result = json.loads(json.dumps(self.handler(event)))
        self.invocations.append(Invocation(action, real_clock.now() - wall, self.clock.wall(),
                                           self.drs_calls() - before))
        return result


@dataclass
class Transition:
    state: str
    kind: str
    at: float
    payload_bytes: int
    wall_seconds: float = 0.0


@dataclass
class Retry:
    state: str
    error: str
    attempt: int
    waited: float


class StateMachineRun:
    """Runs the subset of ASL the engine's definition uses: Task (``lambda:invoke``, with Retry
    and Catch), Choice, Wait, Succeed, Fail. ``steps()`` yields the seconds to wait at each Wait
    state and before each retry, so a scheduler can interleave several executions on one clock."""

    def __init__(self, asl: dict, payload: dict, invoke: Callable[[dict], dict], name: str) -> None:
        self.asl = asl
        self.data = copy.deepcopy(payload)
        self.invoke = invoke
        self.context = {"Execution": {"Name": name}}
        self.transitions: List[Transition] = []
        self.retries: List[Retry] = []
        self.outcome = ""
        self.clock_seconds = 0.0

    @property
    def history_events(self) -> int:
        return 2 + sum(EVENTS_PER_STATE[t.kind] for t in self.transitions) \
            + EVENTS_PER_RETRY * len(self.retries)

    def steps(self, clock, limit: int = 5000) -> Iterator[float]:
        began = clock.now()
        name = self.asl["StartAt"]
        for _ in range(limit):
            state = self.asl["States"][name]
            kind = state["Type"]
            transition = Transition(name, kind, clock.wall(), len(json.dumps(self.data)))
            self.transitions.append(transition)
            if kind in ("Succeed", "Fail"):
                self.outcome = name
                self.clock_seconds = clock.now() - began
                return
            if kind == "Wait":
                yield float(_get(self.data, state["SecondsPath"], self.context))
                name = state["Next"]
            elif kind == "Choice":
                name = _choose(state, self.data, self.context)
            elif kind == "Task":
                name = yield from self._task(name, state, transition)
            else:
                raise AssertionError(f"state type {kind} is not interpreted")
        raise AssertionError(f"no end after {limit} states: {[t.state for t in self.transitions[-8:]]}")

    def _task(self, name: str, state: dict, transition: Transition) -> Iterator[float]:
        attempts: Dict[int, int] = {}
        while True:
            params = _resolve(state["Parameters"], self.data, self.context)
            wall = real_clock.now()
            try:
                result = {"Payload": self.invoke(params["Payload"])}
            except Exception as error:  # noqa: BLE001 - every task error goes to Retry, then Catch
                transition.wall_seconds += real_clock.now() - wall
                code = error.error if isinstance(error, TaskFailure) else type(error).__name__
                rule = next((i for i, r in enumerate(state.get("Retry", []))
                             if _matches(r["ErrorEquals"], code)), None)
                if rule is not None and attempts.get(rule, 0) < state["Retry"][rule]["MaxAttempts"]:
                    retry = state["Retry"][rule]
                    delay = retry["IntervalSeconds"] * retry.get("BackoffRate", 2.0) ** attempts.get(rule, 0)
                    attempts[rule] = attempts.get(rule, 0) + 1
                    self.retries.append(Retry(name, code, attempts[rule], delay))
                    yield delay
                    continue
                catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], code)), None)
                if catch is None:
                    raise
                cause = error.cause if isinstance(error, TaskFailure) else str(error)
                self.data = _put(self.data, catch["ResultPath"], {"Error": code, "Cause": cause})
                return catch["Next"]
            transition.wall_seconds += real_clock.now() - wall
            self.data = _put(self.data, state["ResultPath"], _resolve(state["ResultSelector"], result,
                                                                      self.context))
            return state["Next"]


def engine_lambda(context) -> EngineLambda:
    """The engine's Lambda entry (``lambda_handler``), with this scenario's engine warm in it."""
    from gauntlet.sut.drs_engine import handler

    drs = world(context)
    previous, handler._engine = handler._engine, drs.engine()
    drs.on_scenario_end(lambda: setattr(handler, "_engine", previous))
    calls = drs.control.calls if drs.offline else (lambda: {"operations": {}})
    return EngineLambda(handler.lambda_handler, drs.clock,
                        lambda: calls()["operations"].get("DescribeJobs", 0))


def run_state_machines(runs: List[StateMachineRun], clock) -> None:
    """Drive executions to their ends on one clock, each waking when its Wait or retry is over."""
    queue, order = [], itertools.count()
    for run in runs:
        heapq.heappush(queue, (clock.now(), next(order), run.steps(clock)))
    while queue:
        wake, _, steps = heapq.heappop(queue)
        clock.sleep(max(0.0, wake - clock.now()))
        wait = next(steps, None)
        if wait is not None:
            heapq.heappush(queue, (clock.now() + wait, next(order), steps))


def _matches(names: List[str], error: str) -> bool:
    return error in names or "States.ALL" in names or (
        "States.TaskFailed" in names and error != "States.Timeout")


def _choose(state: dict, data: dict, context: dict) -> str:
    for choice in state["Choices"]:
        value = _get(data, choice["Variable"], context)
        expected = choice.get("BooleanEquals", choice.get("StringEquals"))
        if value == expected:
            return choice["Next"]
    return state["Default"]


def _get(data: dict, path: str, context: dict) -> Any:
    root, rest = (context, path[3:]) if path.startswith("$$.") else (data, path[2:])
    for part in filter(None, rest.split(".")):
        root = root[part]
    return root


def _resolve(template: Any, data: dict, context: dict) -> Any:
    if isinstance(template, dict):
        return {(k[:-2] if k.endswith(".$") else k):
                (_get(data, v, context) if k.endswith(".$") else _resolve(v, data, context))
                for k, v in template.items()}
    return template


def _put(data: dict, path: str, value: Any) -> dict:
    data = copy.deepcopy(data)
    target = data
    parts = path[2:].split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return data


def task_states(asl: dict = STATE_MACHINE) -> Dict[str, dict]:
    return {name: s for name, s in asl["States"].items() if s["Type"] == "Task"}


# -- probes of the DRS API ----------------------------------------------------------------------

@dataclass
class Probe:
    """One DRS operation called to succeed, then to fail."""

    operation: str
    response: Dict[str, Any] = field(default_factory=dict)
    error_code: str = ""
    error_status: int = 0


def call_and_catch(call: Callable[[], dict]) -> tuple:
    """(response, error code, HTTP status) of one client call."""
    from botocore.exceptions import ClientError

    try:
        return call(), "", 0
    except ClientError as error:
        return {}, error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
