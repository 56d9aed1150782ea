"""Test doubles for the engine's AWS calls, for unit tests that need no DRS at all.

- :class:`DrsScript` scripts realistic DRS answers on a real boto3 client with botocore's
  ``Stubber``: calls must arrive in the expected order with the expected parameters, so a test
  also proves *how* the engine called DRS (one StartRecovery per PARALLEL wave, batched
  DescribeJobs ...). Jobs move PENDING -> STARTED -> COMPLETED over as many polls as asked.
- :class:`FaultInjector` answers chosen operations *below* botocore's retry loop (the
  ``before-send`` event), with throttling, server errors, dropped connections or canned
  successes, so botocore's real retry logic runs: it is how throttling and lost connectivity
  are simulated without a network.

No request leaves the process with either.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from typing import Dict, Iterable, List, Optional

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber

ACCOUNT = "123456789012"
REGION = "us-east-1"


def job_id(n: int) -> str:
    """A well-formed DRS job id (``drsjob-`` + 17 characters)."""
    return f"drsjob-{n:017x}"


def drs_job(job: str, servers: Dict[str, str], status: str = "STARTED", is_drill: bool = True,
            instances: Optional[Dict[str, str]] = None, created: str = "2026-11-21T05:00:00.000Z") -> dict:
    """A DRS ``Job`` as DescribeJobs returns it. ``servers``: source server id -> launchStatus."""
    instances = instances or {}
    participants = []
    for sid, launch in servers.items():
        participant = {"sourceServerID": sid, "launchStatus": launch}
        if sid in instances:
            participant["recoveryInstanceID"] = instances[sid]
        participants.append(participant)
    result = {"jobID": job, "arn": f"arn:aws:drs:{REGION}:{ACCOUNT}:job/{job}", "type": "LAUNCH",
              "initiatedBy": "START_DRILL" if is_drill else "START_RECOVERY",
              "creationDateTime": created, "status": status, "participatingServers": participants}
    if status == "COMPLETED":
        result["endDateTime"] = created
    return result


def source_server(sid: str) -> dict:
    return {"sourceServerID": sid, "arn": f"arn:aws:drs:{REGION}:{ACCOUNT}:source-server/{sid}",
            "dataReplicationInfo": {"dataReplicationState": "CONTINUOUS"},
            "lastLaunchResult": "NOT_STARTED"}


class DrsScript:
    """Expected DRS calls and their answers, on one client (``with script: ...`` checks all used)."""

    def __init__(self, client) -> None:
        self.client = client
        self.stubber = Stubber(client)

    def __enter__(self) -> "DrsScript":
        self.stubber.activate()
        return self

    def __exit__(self, *exc) -> None:
        self.stubber.deactivate()
        if exc[0] is None:
            self.stubber.assert_no_pending_responses()

    def source_servers(self, asked: List[str], known: Optional[Iterable[str]] = None) -> "DrsScript":
        known = list(asked if known is None else known)
        self.stubber.add_response("describe_source_servers",
                                  {"items": [source_server(sid) for sid in known]},
                                  {"filters": {"sourceServerIDs": list(asked)}})
        return self

    def start_recovery(self, servers: List[str], job: str, is_drill: bool = True,
                       snapshots: Optional[Dict[str, str]] = None) -> "DrsScript":
        snapshots = snapshots or {}
        request = [{"sourceServerID": sid,
                    **({"recoverySnapshotID": snapshots[sid]} if sid in snapshots else {})}
                   for sid in servers]
        self.stubber.add_response(
            "start_recovery",
            {"job": drs_job(job, {sid: "PENDING" for sid in servers}, "PENDING", is_drill)},
            {"sourceServers": request, "isDrill": is_drill, "tags": ANY})
        return self

    def jobs(self, *jobs: dict) -> "DrsScript":
        """One DescribeJobs answer listing ``jobs`` (asked for exactly their ids)."""
        self.stubber.add_response("describe_jobs", {"items": list(jobs)},
                                  {"filters": {"jobIDs": sorted(j["jobID"] for j in jobs)}})
        return self

    def job_runs(self, job: str, servers: List[str], instances: Dict[str, str], polls: int = 2,
                 is_drill: bool = True, failed: Iterable[str] = ()) -> "DrsScript":
        """DescribeJobs answers for one job: ``polls - 1`` times STARTED/IN_PROGRESS, then
        COMPLETED with each server LAUNCHED (or FAILED if listed in ``failed``)."""
        for _ in range(polls - 1):
            self.jobs(drs_job(job, {sid: "IN_PROGRESS" for sid in servers}, "STARTED", is_drill))
        final = {sid: ("FAILED" if sid in failed else "LAUNCHED") for sid in servers}
        self.jobs(drs_job(job, final, "COMPLETED", is_drill,
                          {sid: iid for sid, iid in instances.items() if sid not in failed}))
        return self

    def job_log(self, job: str, failures: Dict[str, str]) -> "DrsScript":
        """DescribeJobLogItems: LAUNCH_FAILED with ``rawError`` for each failed server."""
        items = [{"logDateTime": "2026-11-21T05:00:00.000Z", "event": "JOB_START"}]
        items += [{"logDateTime": "2026-11-21T05:01:00.000Z", "event": "LAUNCH_FAILED",
                   "eventData": {"sourceServerID": sid, "rawError": message}}
                  for sid, message in failures.items()]
        self.stubber.add_response("describe_job_log_items", {"items": items}, {"jobID": job})
        return self

    def recovery_instances(self, servers: List[str], job: str, instances: Dict[str, str]) -> "DrsScript":
        items = [{"recoveryInstanceID": instances[sid], "ec2InstanceID": instances[sid], "jobID": job,
                  "sourceServerID": sid, "isDrill": True} for sid in servers if sid in instances]
        self.stubber.add_response("describe_recovery_instances", {"items": items},
                                  {"filters": {"sourceServerIDs": list(servers)}})
        return self

    def error(self, operation: str, code: str, message: str, status: int = 400) -> "DrsScript":
        self.stubber.add_client_error(operation, code, message, status)
        return self


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_):
        yield self._data


class FaultInjector:
    """Scripted HTTP answers per operation, consumed in order; unscripted calls go out normally.

    Each answer is ``("error", status, code, message)``, ``("ok", body_dict)`` or
    ``("drop", "timeout" | "closed" | "refused")``. ``calls[operation]`` counts attempts, so a
    test sees botocore's retries.
    """

    def __init__(self, client) -> None:
        self.client = client
        self.script: Dict[str, deque] = defaultdict(deque)
        self.calls: Dict[str, int] = defaultdict(int)
        self._json_protocol = client.meta.service_model.protocol == "json"
        event = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{event}", self._answer)

    def throttle(self, operation: str, times: int = 1, code: str = "ThrottlingException",
                 status: int = 429) -> "FaultInjector":
        for _ in range(times):
            self.script[operation].append(("error", status, code, "Rate exceeded"))
        return self

    def fail(self, operation: str, code: str, message: str, status: int = 400) -> "FaultInjector":
        self.script[operation].append(("error", status, code, message))
        return self

    def drop(self, operation: str, how: str = "timeout", times: int = 1) -> "FaultInjector":
        for _ in range(times):
            self.script[operation].append(("drop", how))
        return self

    def answer(self, operation: str, body: dict) -> "FaultInjector":
        self.script[operation].append(("ok", body))
        return self

    def _answer(self, request, **kwargs):
        operation = kwargs.get("event_name", "").split(".")[-1]
        self.calls[operation] += 1
        if not self.script[operation]:
            return None
        kind, *rest = self.script[operation].popleft()
        if kind == "drop":
            how = rest[0]
            if how == "timeout":
                raise ReadTimeoutError(endpoint_url=request.url)
            if how == "closed":
                raise ConnectionClosedError(endpoint_url=request.url)
            raise EndpointConnectionError(endpoint_url=request.url)
        if kind == "ok":
            return AWSResponse(request.url, 200, {"Content-Type": "application/json"},
                               _Body(json.dumps(rest[0]).encode()))
        status, code, message = rest
        if self._json_protocol:
            body = {"__type": code, "message": message}
            headers = {"Content-Type": "application/x-amz-json-1.0"}
        else:
            body = {"message": message}
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code}
        return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))
