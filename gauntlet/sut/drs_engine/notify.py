"""End-of-execution SNS summary. A notification problem never changes the execution's result."""

from __future__ import annotations

import json
import logging
from typing import List

from botocore.exceptions import BotoCoreError, ClientError

from gauntlet.sut.drs_engine.retry import describe_error

log = logging.getLogger(__name__)


def summary(record: dict) -> dict:
    """The message body: ExecutionId, PlanId, Status, Duration (s), ServerCount, and on failure
    the error and the affected servers."""
    body = {
        "ExecutionId": record["ExecutionId"],
        "PlanId": record["PlanId"],
        "PlanName": record.get("PlanName", ""),
        "Status": record["Status"],
        "Duration": record.get("Duration", 0),
        "ServerCount": record.get("ServerCount", 0),
        "StartTime": record.get("StartTime", ""),
        "EndTime": record.get("EndTime", ""),
        "IsDrill": record.get("IsDrill", True),
        "SourceAccountId": record.get("SourceAccountId", ""),
        "TargetAccountId": record.get("TargetAccountId", ""),
        "Waves": [{"WaveNumber": w["WaveNumber"], "WaveName": w.get("WaveName", ""),
                   "Status": w["Status"]} for w in record.get("Waves", [])],
    }
    if record["Status"] != "COMPLETED":
        body["Error"] = record.get("Error", "")
        body["AffectedServers"] = affected_servers(record)
    return body


def affected_servers(record: dict) -> List[dict]:
    """Servers that did not recover, with their wave, status, DRS job and error."""
    return [{"SourceServerId": s["SourceServerId"], "WaveNumber": w["WaveNumber"], "Status": s["Status"],
             "JobId": s.get("JobId", ""), "Error": s.get("Error", "")}
            for w in record.get("Waves", []) for s in w.get("Servers", [])
            if s["Status"] != "COMPLETED"]


def publish_summary(sns, topic_arn: str, record: dict) -> str:
    """Publish the summary; returns SENT, SKIPPED (no topic) or FAILED (logged, not raised)."""
    if not topic_arn:
        log.info("execution %s: no SnsTopicArn, notification skipped", record["ExecutionId"])
        return "SKIPPED"
    subject = f"DRS recovery {record.get('PlanName') or record['PlanId']}: {record['Status']}"[:100]
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=json.dumps(summary(record), indent=2))
    except (ClientError, BotoCoreError) as error:
        log.error("execution %s: SNS publish to %s failed: %s", record["ExecutionId"], topic_arn,
                  describe_error(error))
        return "FAILED"
    return "SENT"
