"""``@fixture.drs``: the world the @drs features run in (requirement document 004).

Offline (the default target) the fixture starts, for the duration of one feature, an in-thread
:class:`~gauntlet.local.endpoint.LoopbackEndpoint` on 127.0.0.1 serving moto and the DRS
simulator, and points ``AWS_ENDPOINT_URL`` (and ``MOTO_PORT``) at it. The simulator and every
engine built by the world share ONE virtual clock, so "poll every 30 s for 5 minutes" and a
15-minute RTO run in milliseconds through the engine's real code path. In-thread matters: the
simulator launches recovery instances in moto's EC2 backend of this very process.

On a real target there is no simulator: the real clock, and the engine against the real account
and region of the target (the test servers come from ``[drs] source_servers`` of the target file).

Per scenario (:meth:`DrsWorld.begin_scenario`): a fresh DRS simulator, a history table of its
own, a recorder of every AWS call the engine makes, and at the end a clean-up that drops the
table with its records, after (on a real target) terminating the recovery instances of the
scenario's executions and deleting and counting its records (:meth:`DrsWorld.clean_up`;
requirement 004 R12.5: no orphaned records). The engines of a feature share their AWS clients,
as a warm Lambda container does, until a scenario injects faults into them or assumes a role
(then the next scenario gets new ones). The feature's clean-up drops any table a scenario left
behind, fails if one of its tables remains, stops the endpoint and restores the environment.

    context.drs.engine()                 # the scenario's ExecutionEngine (clock shared, table ready)
    context.drs.clock.after(45, action)  # run action 45 s of virtual time from now
    context.drs.simulator.control        # fault injection, call counts (offline only)
    context.drs.calls.of("drs", "StartRecovery")   # what the engine asked, when, with which key
"""

from __future__ import annotations

import copy
import gc
import heapq
import itertools
import logging
import os
import re
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import boto3
import requests
from behave.fixture import fixture
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from gauntlet.clock import Clock, VirtualClock, default_clock, real_clock, wait_until
from gauntlet.harness.fixtures import register
from gauntlet.sut.drs_engine.history import from_item as plain  # a raw DynamoDB item as values

log = logging.getLogger(__name__)

TEST_SOURCE_SERVERS = (
    "s-3d75cdc0d9a28a725", "s-3afa164776f93ce4f",  # Database
    "s-feca26f0b9d59ac6c", "s-711785f31c0ba0949",  # Application
    "s-0b9d9f06cc8cf4476", "s-02d0871fdc0ab474b",  # Web
)
EXECUTION_TAG = "gauntlet:execution-id"
OBSERVER_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10,
                         read_timeout=30)
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10,
                    read_timeout=30)
WATCHED_SERVICES = ("drs", "ec2", "sts", "sns", "dynamodb")


# -- time ------------------------------------------------------------------------------------

class ScenarioClock(VirtualClock):
    """The virtual clock of a feature, with actions scheduled at virtual times.

    ``after(seconds, action)`` runs ``action()`` when a ``sleep`` carries the clock to that
    time (before the sleeper wakes), e.g. a user cancelling 45 s into a run, an instance
    coming up 2 minutes into its health check, or a Lambda retry firing.
    """

    def __init__(self, start: Optional[float] = None) -> None:
        super().__init__(start)
        self._actions: List[Tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._actions, (self.now() + max(0.0, seconds), next(self._order), action))

    def sleep(self, seconds: float) -> None:
        target = self.now() + max(0.0, seconds)
        while self._actions and self._actions[0][0] <= target:
            due, _, action = heapq.heappop(self._actions)
            self.advance(due - self.now())
            action()
        self.advance(target - self.now())

    def clear(self) -> None:
        """Forget scheduled actions (end of a scenario)."""
        self._actions.clear()


# -- what the engine asked AWS -----------------------------------------------------------------

@dataclass
class ApiCall:
    """One API call a watched client made (once per call, however many attempts)."""

    service: str
    operation: str
    params: Dict[str, Any]
    at: float  # clock wall time (epoch seconds), virtual offline
    account: str
    response: Dict[str, Any] = field(default_factory=dict)

    @property
    def error_code(self) -> str:
        return self.response.get("Error", {}).get("Code", "")


@dataclass
class Attempt:
    """One HTTP attempt a watched client sent (botocore retries make several per call)."""

    service: str
    operation: str
    at: float
    account: str
    access_key: str
    session_token: bool


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class ApiCalls:
    """Records the calls and HTTP attempts of the clients it is attached to (botocore events)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: List[ApiCall] = []
        self.attempts: List[Attempt] = []
        self._watched: "weakref.WeakSet" = weakref.WeakSet()
        self._first_hooks: List[Tuple[str, Callable[[ApiCall], None]]] = []

    def reset(self) -> None:
        """Forget what was recorded (clients stay attached)."""
        self.calls.clear()
        self.attempts.clear()
        self._first_hooks.clear()

    def attach(self, client, account: str = "home") -> None:
        if client in self._watched:
            return
        self._watched.add(client)
        service = client.meta.service_model.service_id.hyphenize()
        events = client.meta.events
        events.register(f"before-parameter-build.{service}",
                        lambda params, model, **_: self._call(service, model.name, params, account))
        events.register(f"before-send.{service}",
                        lambda request, **kw: self._attempt(service, kw.get("event_name", ""),
                                                            request, account))
        events.register(f"after-call.{service}",
                        lambda parsed, model, **_: self._answer(service, model.name, parsed))

    def on_first(self, operation: str, callback: Callable[[ApiCall], None]) -> None:
        """Call ``callback(call)`` once, at the next call of ``operation`` by a watched client."""
        self._first_hooks.append((operation, callback))

    def of(self, service: Optional[str] = None, operation: Optional[str] = None,
           since: int = 0) -> List[ApiCall]:
        return [c for c in self.calls[since:] if service in (None, c.service)
                and operation in (None, c.operation)]

    def attempts_of(self, service: Optional[str] = None,
                    operation: Optional[str] = None) -> List[Attempt]:
        return [a for a in self.attempts if service in (None, a.service)
                and operation in (None, a.operation)]

    def mark(self) -> int:
        return len(self.calls)

    def _call(self, service: str, operation: str, params: dict, account: str) -> None:
        call = ApiCall(service, operation, copy.deepcopy(params), self.clock.wall(), account)
        self.calls.append(call)
        for hook in [h for h in self._first_hooks if h[0] == operation]:
            self._first_hooks.remove(hook)
            hook[1](call)

    def _attempt(self, service: str, event_name: str, request, account: str) -> None:
        authorization = request.headers.get("Authorization", "") or ""
        if isinstance(authorization, bytes):
            authorization = authorization.decode("ascii", "replace")
        match = _CREDENTIAL.search(authorization)
        self.attempts.append(Attempt(
            service, event_name.rsplit(".", 1)[-1], self.clock.wall(), account,
            match.group(1) if match else "", bool(request.headers.get("X-Amz-Security-Token"))))

    def _answer(self, service: str, operation: str, parsed: dict) -> None:
        for call in reversed(self.calls):
            if call.service == service and call.operation == operation:
                call.response = parsed
                return


# -- SNS topic with a queue to read it ---------------------------------------------------------

@dataclass
class Topic:
    """An SNS topic with an SQS queue subscribed to it, so a test can read what was published."""

    arn: str
    queue_url: str
    sqs: Any
    received: List[dict] = field(default_factory=list)

    def messages(self) -> List[dict]:
        """Every notification delivered so far: ``{"Subject", "Body"}`` with Body parsed."""
        import json

        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                return list(self.received)
            for message in got:
                envelope = json.loads(message["Body"])
                self.received.append({"Subject": envelope.get("Subject", ""),
                                      "Body": json.loads(envelope["Message"])})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


# -- clean-up ----------------------------------------------------------------------------------

@dataclass
class CleanupReport:
    table: str
    records_deleted: int = 0
    records_left: int = 0
    instances_terminated: List[str] = field(default_factory=list)
    table_dropped: bool = False


class _LogRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# -- the world ---------------------------------------------------------------------------------

class DrsWorld:
    """The clock, the simulator (offline), AWS clients to observe with, and the engine factory."""

    def __init__(self, offline: bool, region: str, run_id: str = "",
                 source_servers: Iterable[str] = TEST_SOURCE_SERVERS, ledger=None) -> None:
        self.offline = offline
        self.region = region
        self.run_id = run_id
        self.test_servers = list(source_servers)
        self.ledger = ledger
        self.clock: Clock = ScenarioClock() if offline else real_clock
        self.simulator = None
        self.endpoint = None
        self.url: Optional[str] = None
        self.calls = ApiCalls(self.clock)
        self.table = ""
        self._tables: List[str] = []  # tables still to drop
        self._made_tables: set = set()  # every table this world created
        self._engine = None
        self._accounts = None  # the engines' AWS clients, shared by the scenarios of a feature
        self._tainted = False  # a scenario changed those clients (faults, roles): rebuild them
        self._clients: Dict[Tuple[str, str, bool], Any] = {}
        self._saved_env: Dict[str, Optional[str]] = {}
        self._saved_werkzeug_level = logging.NOTSET
        self._saved_gc: Tuple[int, ...] = ()
        self._logs = _LogRecords()
        self._scenario_cleanups: List[Callable[[], None]] = []
        self._counter = itertools.count(1)

    # -- feature lifecycle -------------------------------------------------------------------

    def start(self) -> "DrsWorld":
        """Offline: serve moto + the DRS simulator on 127.0.0.1 for this feature."""
        if not self.offline:
            return self
        from gauntlet.local.drs import create_app
        from gauntlet.local.endpoint import LoopbackEndpoint

        self._saved_env = {name: os.environ.get(name) for name in ("AWS_ENDPOINT_URL", "MOTO_PORT")}
        werkzeug = logging.getLogger("werkzeug")
        self._saved_werkzeug_level = werkzeug.level
        werkzeug.setLevel(logging.ERROR)  # no request log lines in the step output
        # moto allocates many short-lived objects per request: collect the young generation less
        # often while the feature runs (restored in close()); it cuts the suite's time by ~10 %.
        self._saved_gc = gc.get_threshold()
        gc.set_threshold(50_000, 50, 100)
        self.simulator = create_app(clock=self.clock)
        self.endpoint = LoopbackEndpoint("127.0.0.1", 0, services={"drs": self.simulator}).start()
        self.url = self.endpoint.url
        os.environ["AWS_ENDPOINT_URL"] = self.url
        os.environ["MOTO_PORT"] = str(self.endpoint.port)
        return self

    def close(self) -> None:
        """Drop any table a scenario left, check that no history table of this world remains
        (raises if one does: an orphan), stop the endpoint, restore the environment."""
        try:
            self.end_scenario()
            for table in list(self._tables):
                self._drop_table(table)
            if self._made_tables:
                orphans = sorted(set(self.tables()) & self._made_tables)
                if orphans:
                    raise RuntimeError(f"history tables left behind: {', '.join(orphans)}")
        finally:
            if self.endpoint is not None:
                self.endpoint.stop()
                self.endpoint = None
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            if self.offline:
                logging.getLogger("werkzeug").setLevel(self._saved_werkzeug_level)
            if self._saved_gc:
                gc.set_threshold(*self._saved_gc)

    # -- scenario lifecycle ------------------------------------------------------------------

    def begin_scenario(self, context=None) -> None:
        """Fresh state for one scenario; its clean-up is registered on ``context``."""
        self.end_scenario()
        if self.offline:
            # DRS starts afresh (servers, jobs, faults, counts, timing). moto keeps its state for
            # the feature (the harness resets it per feature): the previous scenario dropped its
            # table and topics, and a full reset would cost every scenario moto's EC2 start-up.
            self.control.reset()
        self.calls.reset()
        self._engine = None
        if self._tainted:
            self._accounts, self._tainted = None, False
        self.table = (f"gauntlet-drs-{self.run_id}-{next(self._counter)}" if self.run_id
                      else f"gauntlet-drs-{uuid.uuid4().hex[:10]}")
        self._logs.records.clear()
        logging.getLogger("gauntlet.sut.drs_engine").addHandler(self._logs)
        if context is not None:
            context.add_cleanup(self.end_scenario)

    def end_scenario(self) -> None:
        """Undo what the scenario changed in this process, then :meth:`clean_up` its test data."""
        logging.getLogger("gauntlet.sut.drs_engine").removeHandler(self._logs)
        while self._scenario_cleanups:
            self._scenario_cleanups.pop()()
        if isinstance(self.clock, ScenarioClock):
            self.clock.clear()
        if self.offline and self.simulator is not None:
            self.simulator.control.clear_faults()
        if self.table and self.table in self._tables:
            self.clean_up()
        self._engine = None

    def taint(self) -> None:
        """The engine's clients were changed (faults, stubs, roles): the next scenario gets new ones."""
        self._tainted = True

    def stub(self, client):
        """A botocore ``Stubber`` on one of the engine's clients, active until the scenario ends."""
        from botocore.stub import Stubber

        stubber = Stubber(client)
        stubber.activate()
        self.taint()
        self.on_scenario_end(stubber.deactivate)
        return stubber

    def fault_injector(self, client):
        """A ``FaultInjector`` (scripted answers below botocore's retries) on an engine client."""
        from gauntlet.sut.drs_engine.stubs import FaultInjector

        self.taint()
        return FaultInjector(client)

    def on_scenario_end(self, action: Callable[[], None]) -> None:
        """Run ``action`` when the scenario ends (before its test data is cleaned up)."""
        self._scenario_cleanups.append(action)

    # -- the engine --------------------------------------------------------------------------

    def engine(self):
        """The scenario's engine: shared clock, its own history table (created), calls recorded.

        Engines of one feature share their AWS clients (an ``Accounts``), as a warm Lambda
        container does, unless a scenario tampered with them (:meth:`taint`)."""
        if self._engine is None:
            from gauntlet.sut.drs_engine import Accounts, ExecutionEngine

            if self._accounts is None:
                clock = self.clock if self.offline else None
                self._accounts = Accounts(self.region, lambda: clock or default_clock())
            engine = ExecutionEngine(history_table=self.table, clock=self.clock if self.offline else None,
                                     region=self.region, accounts=self._accounts)
            if self.ledger is not None and not self.offline:
                self.ledger.record("dynamodb:table", self.table, region=self.region)
            self._tables.append(self.table)
            self._made_tables.add(self.table)
            engine.ensure_history_table()
            self.watch(engine.accounts.home(), "home")
            self._engine = engine
        return self._engine

    def watch(self, account_context, label: str) -> None:
        """Record every call of the account's clients (creates them; they are cached)."""
        for service in WATCHED_SERVICES:
            self.calls.attach(account_context.client(service), label)

    def watch_plan_account(self, plan: dict) -> None:
        """After ``start``: record the calls made in the plan's cross-account target, if any."""
        role = plan.get("CrossAccountRoleArn")
        if role:
            self.taint()  # its assumed role is cached in the clients: the next scenario assumes anew
            self.watch(self.engine().accounts.target(role, plan.get("TargetAccountId", "")), "target")

    # -- observing AWS -----------------------------------------------------------------------

    def client(self, service: str, role_arn: str = "", retries: bool = True):
        """A plain boto3 client to observe with (never the engine's), optionally in a role."""
        key = (service, role_arn, retries)
        if key not in self._clients:
            config = OBSERVER_CONFIG if retries else NO_RETRIES
            if role_arn:
                credentials = self.client("sts").assume_role(
                    RoleArn=role_arn, RoleSessionName="gauntlet-observer")["Credentials"]
                self._clients[key] = boto3.client(
                    service, region_name=self.region, config=config,
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"])
            else:
                self._clients[key] = boto3.client(service, region_name=self.region, config=config)
        return self._clients[key]

    def home_account(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def jobs(self, role_arn: str = "", job_ids: Optional[List[str]] = None) -> List[dict]:
        """DRS jobs (of the account ``role_arn`` leads to), oldest first."""
        drs = self.client("drs", role_arn)
        request = {"filters": {"jobIDs": job_ids}} if job_ids else {}
        items = drs.get_paginator("describe_jobs").paginate(**request).build_full_result()["items"]
        return sorted(items, key=lambda job: job["creationDateTime"])

    def launch_jobs(self, role_arn: str = "") -> List[dict]:
        return [job for job in self.jobs(role_arn) if job.get("type") == "LAUNCH"]

    def job_log(self, job_id: str, role_arn: str = "") -> List[dict]:
        drs = self.client("drs", role_arn)
        return drs.get_paginator("describe_job_log_items").paginate(
            jobID=job_id).build_full_result()["items"]

    def recovery_instances(self, role_arn: str = "",
                           source_server_ids: Optional[List[str]] = None) -> List[dict]:
        drs = self.client("drs", role_arn)
        request = {"filters": {"sourceServerIDs": source_server_ids}} if source_server_ids else {}
        return drs.get_paginator("describe_recovery_instances").paginate(
            **request).build_full_result()["items"]

    def snapshots(self, source_server_id: str) -> List[dict]:
        """The server's recovery snapshots, oldest first."""
        return self.client("drs").get_paginator("describe_recovery_snapshots").paginate(
            sourceServerID=source_server_id, order="ASC").build_full_result()["items"]

    def source_servers(self, ids: Optional[List[str]] = None) -> List[dict]:
        request = {"filters": {"sourceServerIDs": ids}} if ids else {}
        return self.client("drs").get_paginator("describe_source_servers").paginate(
            **request).build_full_result()["items"]

    def instances(self, instance_ids: List[str], role_arn: str = "") -> Dict[str, dict]:
        """EC2 instance id -> the instance as DescribeInstances reports it."""
        if not instance_ids:
            return {}
        pages = self.client("ec2", role_arn).get_paginator("describe_instances").paginate(
            InstanceIds=list(instance_ids))
        return {i["InstanceId"]: i for page in pages for r in page["Reservations"] for i in r["Instances"]}

    def instance_states(self, instance_ids: List[str], role_arn: str = "") -> Dict[str, str]:
        return {iid: i["State"]["Name"] for iid, i in self.instances(instance_ids, role_arn).items()}

    def record(self, execution_id: str) -> Optional[dict]:
        """The execution's history record as DynamoDB holds it (read by this world, not the engine)."""
        item = self.raw_record(execution_id)
        return plain(item) if item is not None else None

    def raw_record(self, execution_id: str) -> Optional[dict]:
        response = self.client("dynamodb").get_item(
            TableName=self.table, Key={"ExecutionId": {"S": execution_id}}, ConsistentRead=True)
        return response.get("Item")

    def history_items(self, table: Optional[str] = None) -> List[dict]:
        """Every item of the history table, raw (execution records and plan claims)."""
        pages = self.client("dynamodb").get_paginator("scan").paginate(TableName=table or self.table,
                                                                        ConsistentRead=True)
        return [item for page in pages for item in page["Items"]]

    def bulk_load(self, items: List[dict]) -> None:
        """Put raw items into the history table, as a DynamoDB import of test data would.

        Offline they go straight into moto's DynamoDB backend of this process (BatchWriteItem
        would cost ~2 ms of moto parsing per item); on a real target, BatchWriteItem in 25s.
        """
        if self.offline:
            from moto.dynamodb.models import dynamodb_backends

            backend = dynamodb_backends[self.home_account()][self.region]
            for item in items:
                backend.put_item(self.table, item)
            return
        dynamodb = self.client("dynamodb")
        for start in range(0, len(items), 25):
            request = {self.table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
            while request:
                request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if request:
                    self.clock.sleep(1)  # DynamoDB asks to slow down: retry the rest

    def count_items(self, table: Optional[str] = None) -> int:
        """Items in the history table (a consistent COUNT scan)."""
        pages = self.client("dynamodb").get_paginator("scan").paginate(
            TableName=table or self.table, Select="COUNT", ConsistentRead=True)
        return sum(page["Count"] for page in pages)

    def execution_records(self) -> List[dict]:
        return [plain(item) for item in self.history_items() if "PlanId" in item]

    def tables(self) -> List[str]:
        return self.client("dynamodb").get_paginator("list_tables").paginate().build_full_result()[
            "TableNames"]

    def topic(self) -> Topic:
        """A new SNS topic with an SQS queue subscribed (raw delivery off, as by default)."""
        name = f"gauntlet-drs-{uuid.uuid4().hex[:8]}"
        sns, sqs = self.client("sns"), self.client("sqs")
        arn = sns.create_topic(Name=name)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        self.on_scenario_end(lambda: (sns.delete_topic(TopicArn=arn),
                                      sqs.delete_queue(QueueUrl=queue_url)))
        return Topic(arn, queue_url, sqs)

    def engine_log(self, level: int = logging.DEBUG) -> List[str]:
        """What the engine logged during this scenario (messages at ``level`` or above)."""
        return [r.getMessage() for r in self._logs.records if r.levelno >= level]

    # -- the simulator (offline) -------------------------------------------------------------

    @property
    def control(self):
        if self.simulator is None:
            raise RuntimeError("no DRS simulator on this target: this needs the offline target")
        return self.simulator.control

    def add_source_servers(self, count: int, tags: Optional[Dict[str, str]] = None) -> List[str]:
        return self.control.add_source_servers(count, tags)

    # -- faults below the engine -------------------------------------------------------------

    def lose_next_reply(self, client, operation: str) -> None:
        """The next ``operation`` request of ``client`` reaches AWS, but its reply is lost.

        The request is delivered as sent (signed), its answer dropped, and botocore sees a read
        timeout, as when the network fails after the service acted: botocore then retries.
        """
        service = client.meta.service_model.service_id.hyphenize()
        armed = [True]

        def deliver_then_drop(request, **_):
            if not armed[0]:
                return None
            armed[0] = False
            body = request.body
            requests.request(request.method, request.url, headers=dict(request.headers),
                             data=body.read() if hasattr(body, "read") else body, timeout=30)
            raise ReadTimeoutError(endpoint_url=request.url)

        self.taint()
        client.meta.events.register_first(f"before-send.{service}.{operation}", deliver_then_drop)

    # -- clean-up ----------------------------------------------------------------------------

    def clean_up(self, table: Optional[str] = None, thorough: Optional[bool] = None) -> CleanupReport:
        """Remove the test data of a history table, then drop the table.

        Thorough (always on a real target; offline when asked): terminate the recovery instances
        of its executions through DRS, delete every item, and scan to check that none is left
        before the table is dropped. Otherwise (offline, after each scenario) just drop the table:
        its records go with it, and the harness resets the rest of moto for the next feature.
        """
        table = table or self.table
        report = CleanupReport(table)
        if table not in self._tables:
            return report
        if thorough if thorough is not None else not self.offline:
            pages = self.client("dynamodb").get_paginator("scan").paginate(
                TableName=table, ConsistentRead=True,
                ProjectionExpression="ExecutionId, PlanId, CrossAccountRoleArn, Waves")
            items = [item for page in pages for item in page["Items"]]
            records = [plain(item) for item in items if "PlanId" in item]
            report.instances_terminated = self.terminate_recovery_instances(records)
            self._delete_items(table, items)
            report.records_deleted = len(records)
            report.records_left = self.count_items(table)
        self._drop_table(table)
        report.table_dropped = True  # _drop_table waited until ListTables no longer had it
        return report

    def _delete_items(self, table: str, items: List[dict]) -> None:
        dynamodb = self.client("dynamodb")
        for start in range(0, len(items), 25):
            request = {table: [{"DeleteRequest": {"Key": {"ExecutionId": item["ExecutionId"]}}}
                               for item in items[start:start + 25]]}
            while request:
                request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if request:
                    self.clock.sleep(1)  # DynamoDB asks to slow down: retry the rest

    def terminate_recovery_instances(self, records: List[dict]) -> List[str]:
        """Terminate (through DRS) the recovery instances these executions launched and wait until
        EC2 reports them terminated; returns their ids.

        An instance belongs to an execution if the record names it, or its DRS job, or it carries
        the execution's tag (an instance launched after the engine last wrote its record).
        """
        by_role: Dict[str, List[dict]] = {}
        for record in records:
            by_role.setdefault(record.get("CrossAccountRoleArn", ""), []).append(record)
        terminated: List[str] = []
        for role, mine in by_role.items():
            executions = {r["ExecutionId"] for r in mine}
            servers = [s for r in mine for w in r.get("Waves", []) for s in w.get("Servers", [])]
            jobs = {s["JobId"] for s in servers if s.get("JobId")}
            named = {s["RecoveryInstanceId"] for s in servers if s.get("RecoveryInstanceId")}
            ids = [r["recoveryInstanceID"] for r in self.recovery_instances(role)
                   if r["recoveryInstanceID"] in named or r.get("jobID") in jobs
                   or r.get("tags", {}).get(EXECUTION_TAG) in executions]
            drs = self.client("drs", role)
            for start in range(0, len(ids), 200):
                drs.terminate_recovery_instances(recoveryInstanceIDs=ids[start:start + 200])
            if ids:
                def all_terminated(ids=ids, role=role) -> bool:
                    return set(self.instance_states(ids, role).values()) <= {"terminated"}

                wait_until(all_terminated, timeout=600 if self.offline else 3600,
                           interval=60 if self.offline else 30, clock=self.clock,
                           description=f"recovery instances {', '.join(ids)} terminated")
            terminated.extend(ids)
        return terminated

    def _drop_table(self, table: str) -> None:
        dynamodb = self.client("dynamodb")
        try:
            dynamodb.delete_table(TableName=table)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        wait_until(lambda: table not in self.tables(), timeout=600, interval=2 if self.offline else 10,
                   description=f"DynamoDB table {table} deleted", clock=self.clock)
        if table in self._tables:
            self._tables.remove(table)
        if self.ledger is not None and not self.offline:
            self.ledger.release("dynamodb:table", table)


@register("fixture.drs")
@fixture
def drs_world(context):
    """The DRS world of one feature: ``context.drs`` (see :class:`DrsWorld`)."""
    session = context.gauntlet
    target = session.target
    servers = target.section("drs").get("source_servers") or TEST_SOURCE_SERVERS
    world = DrsWorld(offline=target.offline, region=target.region, run_id=session.run.run_id,
                     source_servers=servers, ledger=session.run.ledger).start()
    context.drs = world
    try:
        yield world
    finally:
        world.close()


# -- test data built to size ---------------------------------------------------------------------

def scale_plan(server_ids: List[str], waves: int, plan_id: str = "plan-scale",
               execution_type: str = "PARALLEL", chained: bool = True) -> Tuple[dict, dict]:
    """A plan recovering ``server_ids`` in ``waves`` waves of (nearly) equal size, and its
    protection groups (one per wave, ``pg-scale-NN``), in the DynamoDB PascalCase schema.
    With ``chained`` each wave depends on the one before it."""
    size = -(-len(server_ids) // waves)
    chunks = [server_ids[i:i + size] for i in range(0, len(server_ids), size)]
    groups = {"ProtectionGroups": [
        {"ProtectionGroupId": f"pg-scale-{n:02d}", "Name": f"Scale {n:02d}", "SourceServerIds": chunk}
        for n, chunk in enumerate(chunks, start=1)]}
    plan = {"PlanId": plan_id, "PlanName": f"{len(server_ids)} servers in {len(chunks)} waves",
            "IsDrill": True, "Waves": [{
                "WaveNumber": n, "WaveName": f"Scale {n:02d}", "ProtectionGroupId": f"pg-scale-{n:02d}",
                "ExecutionType": execution_type, "DependsOn": [n - 1] if chained and n > 1 else [],
                "WaitTimeSeconds": 0,
                "HealthCheck": {"Enabled": True, "TimeoutSeconds": 300, "IntervalSeconds": 30},
                "Servers": [{"SourceServerId": sid, "ExecutionOrder": i + 1} for i, sid in enumerate(chunk)],
            } for n, chunk in enumerate(chunks, start=1)]}
    return plan, groups
