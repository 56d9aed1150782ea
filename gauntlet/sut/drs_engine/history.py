"""Execution history in DynamoDB: one item per execution, also the engine's durable state.

Table: partition key ``ExecutionId`` (S); global secondary index ``PlanId-StartTime-index``
(``PlanId`` S, ``StartTime`` S, ISO 8601 UTC) for "latest executions of a plan". Each running
plan also has one claim item (``ExecutionId = "PLAN#<PlanId>"``, no ``PlanId`` attribute, so it
never shows in the index) naming its active execution: that is how a duplicate start finds the
execution already running.

Every write goes through :func:`retry_write`. Nothing is stored as None: the engine fills absent
values with ``""``, ``0`` or ``[]``, and the serializer turns a stray None into ``""``.

An execution record (times are ISO 8601 UTC strings, ``""`` until they happen)::

    ExecutionId, PlanId, PlanName, Status (RUNNING | COMPLETED | FAILED | CANCELLED),
    StartTime, EndTime, Duration (s), UpdatedAt, IsDrill, SourceAccountId, TargetAccountId,
    CrossAccountRoleArn, Region, SnsTopicArn, IdempotencyKey, ExecutionTimeoutSeconds,
    CancelRequested, Error, ServerCount, NextWaveAt, Notification (SENT | SKIPPED | FAILED),
    Plan (JSON), ProtectionGroups (JSON),
    Waves: [{WaveNumber, WaveName, ProtectionGroupId, ExecutionType, DependsOn,
             Status (PENDING | RUNNING | COMPLETED | FAILED | SKIPPED | CANCELLED),
             StartTime, EndTime, Error,
             Servers: [{SourceServerId, ExecutionOrder, RecoverySnapshotId,
                        Status (PENDING | IN_PROGRESS | COMPLETED | FAILED | SKIPPED | CANCELLED),
                        JobId, JobStatus, LaunchStatus, RecoveryInstanceId, InstanceState,
                        HealthCheck ("" | PENDING | PASSED | FAILED | SKIPPED),
                        HealthCheckStartTime, StartTime, EndTime, Error}]}]
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import Callable, Dict, List, Optional

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from gauntlet.clock import Clock, default_clock, wait_until
from gauntlet.sut.drs_engine.retry import retry_write

log = logging.getLogger(__name__)
PLAN_INDEX = "PlanId-StartTime-index"
CLAIM_PREFIX = "PLAN#"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class HistoryStore:
    """Reads and writes execution records in one table."""

    def __init__(self, table_name: str, dynamodb, clock: Callable[[], Clock] = default_clock) -> None:
        self.table_name = table_name
        self.dynamodb = dynamodb
        self._clock = clock

    # -- table -------------------------------------------------------------------------------

    def ensure_table(self, timeout: float = 120) -> None:
        """Create the table and its index if missing, then wait (clock) until it is ACTIVE."""
        try:
            self.dynamodb.describe_table(TableName=self.table_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            strings = [{"AttributeName": name, "AttributeType": "S"}
                       for name in ("ExecutionId", "PlanId", "StartTime")]
            self.dynamodb.create_table(
                TableName=self.table_name, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=strings,
                KeySchema=[{"AttributeName": "ExecutionId", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[{
                    "IndexName": PLAN_INDEX,
                    "KeySchema": [{"AttributeName": "PlanId", "KeyType": "HASH"},
                                  {"AttributeName": "StartTime", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }])
        wait_until(lambda: self.dynamodb.describe_table(TableName=self.table_name)["Table"]
                   ["TableStatus"] == "ACTIVE", timeout=timeout, interval=2,
                   description=f"DynamoDB table {self.table_name} ACTIVE", clock=self._clock())

    def drop_table(self) -> None:
        """Delete the table (test clean-up)."""
        try:
            self.dynamodb.delete_table(TableName=self.table_name)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    # -- records -----------------------------------------------------------------------------

    def create(self, record: dict, plan_id: str, active_execution: Optional[str]) -> str:
        """Write a new RUNNING record and claim its plan in one transaction.

        ``active_execution`` is the claim holder seen before (None: no claim). Returns
        ``"created"``, ``"exists"`` (same ExecutionId already written) or ``"claimed"`` (another
        execution took the plan meanwhile).
        """
        execution_id = record["ExecutionId"]
        claim = {"ExecutionId": f"{CLAIM_PREFIX}{plan_id}", "ActiveExecutionId": execution_id,
                 "ClaimedAt": record["StartTime"]}
        if active_execution is None:
            claim_condition = {"ConditionExpression": "attribute_not_exists(ExecutionId)"}
        else:
            claim_condition = {"ConditionExpression": "ActiveExecutionId = :holder",
                               "ExpressionAttributeValues": {":holder": {"S": active_execution}}}
        try:
            retry_write(lambda: self.dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table_name, "Item": to_item(record),
                         "ConditionExpression": "attribute_not_exists(ExecutionId)"}},
                {"Put": {"TableName": self.table_name, "Item": to_item(claim), **claim_condition}},
            ]), f"create {execution_id}", self._clock())
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return "exists"
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return "claimed"
            raise
        return "created"

    def get(self, execution_id: str) -> Optional[dict]:
        response = self.dynamodb.get_item(TableName=self.table_name, ConsistentRead=True,
                                          Key={"ExecutionId": {"S": execution_id}})
        return from_item(response["Item"]) if "Item" in response else None

    def control(self, execution_id: str) -> dict:
        """Just ``Status`` and ``CancelRequested``: what a running engine re-reads every tick."""
        response = self.dynamodb.get_item(
            TableName=self.table_name, ConsistentRead=True, Key={"ExecutionId": {"S": execution_id}},
            ProjectionExpression="#status, CancelRequested", ExpressionAttributeNames={"#status": "Status"})
        return from_item(response.get("Item", {}))

    def update(self, execution_id: str, fields: Dict[str, object], only_if_running: bool = False) -> bool:
        """Set top-level attributes. With ``only_if_running``, returns False if it was not RUNNING."""
        names = {f"#k{i}": key for i, key in enumerate(fields)}
        values = {f":v{i}": _serializer.serialize(_clean(value)) for i, value in enumerate(fields.values())}
        request = {
            "TableName": self.table_name, "Key": {"ExecutionId": {"S": execution_id}},
            "UpdateExpression": "SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(fields))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }
        if only_if_running:
            request["ConditionExpression"] = "#status = :running"
            names["#status"] = "Status"
            values[":running"] = {"S": "RUNNING"}
        try:
            retry_write(lambda: self.dynamodb.update_item(**request), f"update {execution_id}",
                        self._clock())
        except ClientError as error:
            if only_if_running and error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def claim_holder(self, plan_id: str) -> Optional[str]:
        response = self.dynamodb.get_item(TableName=self.table_name, ConsistentRead=True,
                                          Key={"ExecutionId": {"S": f"{CLAIM_PREFIX}{plan_id}"}})
        item = response.get("Item")
        return item["ActiveExecutionId"]["S"] if item else None

    def release_claim(self, plan_id: str, execution_id: str) -> None:
        """Drop the plan's claim if this execution still holds it."""
        try:
            retry_write(lambda: self.dynamodb.delete_item(
                TableName=self.table_name, Key={"ExecutionId": {"S": f"{CLAIM_PREFIX}{plan_id}"}},
                ConditionExpression="ActiveExecutionId = :me",
                ExpressionAttributeValues={":me": {"S": execution_id}}),
                f"release claim of {plan_id}", self._clock())
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def query(self, plan_id: Optional[str] = None, limit: int = 50) -> List[dict]:
        """Newest first: one plan's executions (index query) or every execution (scan)."""
        if plan_id:
            response = self.dynamodb.query(
                TableName=self.table_name, IndexName=PLAN_INDEX, Limit=limit, ScanIndexForward=False,
                KeyConditionExpression="PlanId = :plan",
                ExpressionAttributeValues={":plan": {"S": plan_id}})
            return [from_item(item) for item in response["Items"]]
        records, request = [], {"TableName": self.table_name,
                                "FilterExpression": "attribute_exists(StartTime)"}
        while True:
            response = self.dynamodb.scan(**request)
            records.extend(from_item(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        records.sort(key=lambda r: r.get("StartTime", ""), reverse=True)
        return records[:limit]

    def delete(self, execution_id: str) -> None:
        retry_write(lambda: self.dynamodb.delete_item(TableName=self.table_name,
                                                      Key={"ExecutionId": {"S": execution_id}}),
                    f"delete {execution_id}", self._clock())


def iso_time(epoch: float) -> str:
    """Record timestamps: ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T05:43:00.123Z``."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def to_item(record: dict) -> dict:
    return {key: _serializer.serialize(_clean(value)) for key, value in record.items()}


def from_item(item: dict) -> dict:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _clean(value):
    """DynamoDB-ready: floats as Decimal, None as ""."""
    if value is None:
        log.warning("history: None replaced by an empty string")
        return ""
    if isinstance(value, float):
        return Decimal(str(round(value, 3)))
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def _plain(value):
    """Decimals back to int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
