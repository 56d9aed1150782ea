"""DRS recovery jobs: launch, batched monitoring, failure details, recovered instance ids.

DRS reports a job as PENDING | STARTED | COMPLETED and each participating server's launchStatus
as PENDING | IN_PROGRESS | LAUNCHED | FAILED | TERMINATED. The engine speaks PENDING |
IN_PROGRESS | COMPLETED | FAILED; :func:`job_progress` translates. A COMPLETED job succeeded for
a server only if that server was LAUNCHED.

A launch never creates a second job for a server: if StartRecovery answers ConflictException
(the server is already in an active job, e.g. because botocore retried a request whose first
attempt did reach DRS) or fails ambiguously (read timeout, connection dropped), the active job
holding the server is looked up with DescribeJobs and adopted.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Dict, Iterable, List

from botocore.exceptions import BotoCoreError, ClientError

from gauntlet.sut.drs_engine.retry import AMBIGUOUS_ERRORS, attempts_made, describe_error

log = logging.getLogger(__name__)

JOB_STATUS = {"PENDING": "PENDING", "STARTED": "IN_PROGRESS", "COMPLETED": "COMPLETED"}
LAUNCH_STATUS = {"PENDING": "PENDING", "IN_PROGRESS": "IN_PROGRESS", "LAUNCHED": "COMPLETED",
                 "FAILED": "FAILED", "TERMINATED": "FAILED"}
FAILURE_EVENTS = ("LAUNCH_FAILED", "CONVERSION_FAIL", "SNAPSHOT_FAIL", "USING_PREVIOUS_SNAPSHOT_FAILED",
                  "NETWORK_RECOVERY_FAIL", "DEPLOY_NETWORK_CONFIGURATION_FAILED",
                  "UPDATE_LAUNCH_TEMPLATE_FAILED", "SERVER_SKIPPED", "JOB_CANCEL")
BATCH = 200  # DRS list filters take at most 200 ids


class DrsError(RuntimeError):
    """A DRS call failed for good; names the operation, the servers and the cause."""

    def __init__(self, operation: str, server_ids: Iterable[str], cause: Exception) -> None:
        self.operation = operation
        self.server_ids = list(server_ids)
        self.cause = cause
        attempts = attempts_made(cause)
        super().__init__(f"drs {operation} for {', '.join(self.server_ids)} failed after {attempts} "
                         f"attempt{'s' if attempts != 1 else ''}: {describe_error(cause)}")


@dataclass
class ServerProgress:
    source_server_id: str
    status: str
    launch_status: str
    recovery_instance_id: str


@dataclass
class JobProgress:
    job_id: str
    status: str
    drs_status: str
    servers: Dict[str, ServerProgress] = field(default_factory=dict)


@dataclass
class Launch:
    """What a StartRecovery attempt achieved: server -> job id, and server -> error."""

    jobs: Dict[str, str] = field(default_factory=dict)
    errors: Dict[str, str] = field(default_factory=dict)
    adopted: bool = False


def job_progress(job: dict) -> JobProgress:
    """Translate one DRS ``Job`` into engine statuses."""
    drs_status = job.get("status", "PENDING")
    finished = drs_status == "COMPLETED"
    servers = {}
    for participant in job.get("participatingServers", []):
        launch = participant.get("launchStatus", "PENDING")
        status = LAUNCH_STATUS.get(launch, "IN_PROGRESS")
        if finished and status != "COMPLETED":
            status = "FAILED"
        sid = participant.get("sourceServerID", "")
        servers[sid] = ServerProgress(sid, status, launch, participant.get("recoveryInstanceID", ""))
    if finished:
        status = "COMPLETED" if servers and all(s.status == "COMPLETED" for s in servers.values()) \
            else "FAILED"
    else:
        status = JOB_STATUS.get(drs_status, "IN_PROGRESS")
    return JobProgress(job["jobID"], status, drs_status, servers)


class DrsJobs:
    """Domain verbs over one DRS client (already carrying the retry policy)."""

    def __init__(self, drs, now) -> None:
        self.drs = drs
        self._now = now  # () -> epoch seconds, from the engine's clock

    def missing_servers(self, server_ids: List[str]) -> List[str]:
        """The ids DRS does not know (one DescribeSourceServers call per 200 ids)."""
        known = set()
        for chunk in _chunks(server_ids):
            try:
                for page in self._pages("describe_source_servers", filters={"sourceServerIDs": chunk}):
                    known.update(item["sourceServerID"] for item in page.get("items", []))
            except (ClientError, BotoCoreError) as error:
                raise DrsError("DescribeSourceServers", chunk, error) from error
        return [sid for sid in server_ids if sid not in known]

    def start(self, servers, is_drill: bool, tags: Dict[str, str]) -> Launch:
        """One StartRecovery call for ``servers`` (plan :class:`Server` objects)."""
        ids = [s.source_server_id for s in servers]
        request = [{"sourceServerID": s.source_server_id,
                    **({"recoverySnapshotID": s.recovery_snapshot_id} if s.recovery_snapshot_id else {})}
                   for s in servers]
        asked_at = self._now()
        try:
            job = self.drs.start_recovery(sourceServers=request, isDrill=is_drill, tags=tags)["job"]
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConflictException":
                raise DrsError("StartRecovery", ids, error) from error
            return self._adopt(ids, asked_at, error)
        except AMBIGUOUS_ERRORS as error:
            return self._adopt(ids, asked_at, error)
        except BotoCoreError as error:
            raise DrsError("StartRecovery", ids, error) from error
        log.info("DRS job %s started for %s (drill=%s)", job["jobID"], ", ".join(ids), is_drill)
        return Launch(jobs={sid: job["jobID"] for sid in ids})

    def progress(self, job_ids: List[str], server_ids: List[str]) -> Dict[str, JobProgress]:
        """Every listed job's progress from one DescribeJobs call (more only if DRS pages)."""
        found = {}
        try:
            for page in self._pages("describe_jobs", filters={"jobIDs": list(job_ids)}):
                for job in page.get("items", []):
                    found[job["jobID"]] = job_progress(job)
        except (ClientError, BotoCoreError) as error:
            raise DrsError(f"DescribeJobs ({', '.join(job_ids)})", server_ids, error) from error
        return found

    def failure_messages(self, job_id: str) -> Dict[str, str]:
        """server id -> why DRS failed it, from the job log (``rawError`` of the failure event)."""
        messages: Dict[str, str] = {}
        try:
            for page in self._pages("describe_job_log_items", jobID=job_id):
                for item in page.get("items", []):
                    event = item.get("event", "")
                    data = item.get("eventData", {})
                    sid = data.get("sourceServerID", "")
                    if event in FAILURE_EVENTS and sid:
                        reason = data.get("rawError", "")
                        if event == "LAUNCH_FAILED" or sid not in messages:
                            messages[sid] = f"{event}: {reason}" if reason else event
        except (ClientError, BotoCoreError) as error:
            log.warning("could not read the log of DRS job %s: %s", job_id, describe_error(error))
        return messages

    def instance_ids(self, server_ids: List[str], job_ids: Dict[str, str]) -> Dict[str, str]:
        """server id -> EC2 instance id of its recovery instance from ``job_ids[server]``."""
        result: Dict[str, str] = {}
        for chunk in _chunks(server_ids):
            try:
                for page in self._pages("describe_recovery_instances",
                                        filters={"sourceServerIDs": chunk}):
                    for item in page.get("items", []):
                        sid = item.get("sourceServerID", "")
                        instance = item.get("ec2InstanceID") or item.get("recoveryInstanceID", "")
                        if sid in chunk and instance and (
                                item.get("jobID") == job_ids.get(sid) or sid not in result):
                            result[sid] = instance
            except (ClientError, BotoCoreError) as error:
                raise DrsError("DescribeRecoveryInstances", chunk, error) from error
        return result

    def active_jobs(self, server_ids: List[str], since: float) -> Dict[str, str]:
        """server id -> the newest not-yet-COMPLETED launch job that holds it (since ``since``)."""
        wanted, holders, newest = set(server_ids), {}, {}
        since_text = _iso(since - 3600)
        for page in self._pages("describe_jobs", filters={"fromDate": since_text}):
            for job in page.get("items", []):
                if job.get("status") == "COMPLETED" or job.get("type", "LAUNCH") != "LAUNCH":
                    continue
                created = job.get("creationDateTime", "")
                for participant in job.get("participatingServers", []):
                    sid = participant.get("sourceServerID")
                    if sid in wanted and created >= newest.get(sid, ""):
                        holders[sid], newest[sid] = job["jobID"], created
        return holders

    def _adopt(self, ids: List[str], asked_at: float, error: Exception) -> Launch:
        try:
            holders = self.active_jobs(ids, asked_at)
        except (ClientError, BotoCoreError) as lookup_error:
            log.warning("could not look for active jobs: %s", describe_error(lookup_error))
            holders = {}
        if not holders:
            raise DrsError("StartRecovery", ids, error) from error
        log.info("StartRecovery for %s: %s; adopting active job(s) %s", ", ".join(ids),
                 describe_error(error), sorted(set(holders.values())))
        reason = DrsError("StartRecovery", [sid for sid in ids if sid not in holders], error)
        return Launch(jobs=holders, errors={sid: str(reason) for sid in ids if sid not in holders},
                      adopted=True)

    def _pages(self, operation: str, **kwargs):
        method = getattr(self.drs, operation)
        while True:
            page = method(**kwargs)
            yield page
            token = page.get("nextToken")
            if not token:
                return
            kwargs["nextToken"] = token


def _chunks(items: List[str]) -> List[List[str]]:
    return [items[i:i + BATCH] for i in range(0, len(items), BATCH)] or []


def _iso(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
